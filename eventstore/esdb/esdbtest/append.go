package esdbtest

import (
	"errors"
	"io"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Expected revisions as EventStoreDB numbers them internally.
const (
	expectAny          int64 = -2
	expectNoStream     int64 = -1
	expectStreamExists int64 = -4
)

type commitDecision int

const (
	commitOK commitDecision = iota
	commitIdempotent
	commitWrongExpectedVersion
)

// Append writes the proposed events if the stream matches the expected revision, following
// EventStoreDB's commit check: a retried append whose event IDs are already in place succeeds
// without writing again, and a partly matching one is a wrong expected version.
func (s *Server) Append(stream streams.Streams_AppendServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry the options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	if name == "" {
		return status.Error(codes.InvalidArgument, "stream name is empty")
	}
	expected, err := expectedFromAppend(opts)
	if err != nil {
		return err
	}

	var proposed []*record
	size := 0
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := msg.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "expected a proposed message after the options")
		}
		r, err := recordFromProposed(name, pm)
		if err != nil {
			return err
		}
		size += len(r.data) + len(r.customMetadata)
		proposed = append(proposed, r)
	}
	if size > s.maxAppendSize {
		stream.SetTrailer(metadata.Pairs("exception", "maximum-append-size-exceeded"))
		return status.Errorf(codes.InvalidArgument, "Maximum Append Size of %d Exceeded.", s.maxAppendSize)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	current := s.currentRevision(name)
	decision, end := s.checkCommit(name, expected, current, proposed)
	switch decision {
	case commitWrongExpectedVersion:
		return stream.SendAndClose(wrongExpectedVersion(expected, current))
	case commitIdempotent:
		return stream.SendAndClose(success(end.revision, end.position))
	}
	if len(proposed) == 0 {
		if current < 0 {
			return stream.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_Success_{
				Success: &streams.AppendResp_Success{
					CurrentRevisionOption: &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}},
					PositionOption:        &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
				},
			}})
		}
		last := s.byStream[name][current]
		return stream.SendAndClose(success(last.revision, last.position))
	}
	created := ticks(s.now())
	for i, r := range proposed {
		r.revision = uint64(current + 1 + int64(i))
		r.position = s.nextPos
		r.created = created
		s.nextPos += r.size()
		s.log = append(s.log, r)
		s.byStream[name] = append(s.byStream[name], r)
		s.byID[r.id] = r
	}
	close(s.appended)
	s.appended = make(chan struct{})
	last := proposed[len(proposed)-1]
	return stream.SendAndClose(success(last.revision, last.position))
}

// checkCommit decides an append the way EventStoreDB's index writer does. It returns the last
// already written event when the append is idempotent. Callers hold s.mu.
func (s *Server) checkCommit(stream string, expected, current int64, proposed []*record) (commitDecision, *record) {
	switch expected {
	case expectStreamExists:
		if current < 0 {
			return commitWrongExpectedVersion, nil
		}
		fallthrough
	case expectAny:
		// Idempotent when every event ID is already in this stream; a partial match is corrupt
		// idempotency, which EventStoreDB reports as a wrong expected version.
		var end *record
		for i, p := range proposed {
			r, ok := s.byID[p.id]
			if !ok || r.stream != stream {
				if i == 0 {
					return commitOK, nil
				}
				return commitWrongExpectedVersion, nil
			}
			end = r
		}
		if end == nil {
			return commitOK, nil
		}
		return commitIdempotent, end
	}
	if expected < current {
		events := s.byStream[stream]
		n := expected
		var end *record
		for _, p := range proposed {
			n++
			if n > current || events[n].id != p.id {
				return commitWrongExpectedVersion, nil
			}
			end = events[n]
		}
		if end == nil {
			return commitWrongExpectedVersion, nil
		}
		return commitIdempotent, end
	}
	if expected > current {
		return commitWrongExpectedVersion, nil
	}
	return commitOK, nil
}

func expectedFromAppend(opts *streams.AppendReq_Options) (int64, error) {
	switch v := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Any:
		return expectAny, nil
	case *streams.AppendReq_Options_NoStream:
		return expectNoStream, nil
	case *streams.AppendReq_Options_StreamExists:
		return expectStreamExists, nil
	case *streams.AppendReq_Options_Revision:
		if v.Revision > uint64(1<<62) {
			return 0, status.Errorf(codes.InvalidArgument, "expected revision %d is out of range", v.Revision)
		}
		return int64(v.Revision), nil
	default:
		return 0, status.Error(codes.InvalidArgument, "expected stream revision is missing")
	}
}

func recordFromProposed(stream string, pm *streams.AppendReq_ProposedMessage) (*record, error) {
	id, err := uuidFromProto(pm.GetId())
	if err != nil {
		return nil, err
	}
	md := pm.GetMetadata()
	eventType, ok := md["type"]
	if !ok || eventType == "" {
		return nil, status.Error(codes.InvalidArgument, "proposed message has no \"type\" metadata")
	}
	contentType, ok := md["content-type"]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "proposed message has no \"content-type\" metadata")
	}
	return &record{
		id:             id,
		stream:         stream,
		eventType:      eventType,
		contentType:    contentType,
		data:           append([]byte{}, pm.GetData()...),
		customMetadata: append([]byte{}, pm.GetCustomMetadata()...),
	}, nil
}

func uuidFromProto(id *shared.UUID) (uuid.UUID, error) {
	if st := id.GetStructured(); st != nil {
		var b [16]byte
		for i := 0; i < 8; i++ {
			b[i] = byte(uint64(st.MostSignificantBits) >> (56 - 8*i))
			b[8+i] = byte(uint64(st.LeastSignificantBits) >> (56 - 8*i))
		}
		return uuid.UUID(b), nil
	}
	if str := id.GetString_(); str != "" {
		u, err := uuid.Parse(str)
		if err != nil {
			return uuid.Nil, status.Errorf(codes.InvalidArgument, "event id %q is not a UUID", str)
		}
		return u, nil
	}
	return uuid.Nil, status.Error(codes.InvalidArgument, "proposed message has no event id")
}

func uuidToProto(id uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	var most, least uint64
	for i := 0; i < 8; i++ {
		most = most<<8 | uint64(id[i])
		least = least<<8 | uint64(id[8+i])
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(most),
		LeastSignificantBits: int64(least),
	}}}
}

func success(revision, position uint64) *streams.AppendResp {
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: &streams.AppendResp_Success{
		CurrentRevisionOption: &streams.AppendResp_Success_CurrentRevision{CurrentRevision: revision},
		PositionOption: &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition:  position,
			PreparePosition: position,
		}},
	}}}
}

// wrongExpectedVersion fills both the 20.6 fields and the current ones, as the real server does.
func wrongExpectedVersion(expected, current int64) *streams.AppendResp {
	w := &streams.AppendResp_WrongExpectedVersion{}
	if current < 0 {
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
	}
	switch expected {
	case expectAny:
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
	case expectStreamExists:
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	case expectNoStream:
		// The 20.6 oneof has no "no stream" case; the old servers sent nothing there.
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}
