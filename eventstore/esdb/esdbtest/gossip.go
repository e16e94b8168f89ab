package esdbtest

import (
	"context"
	"net"
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gossipService answers cluster discovery (esdb+discover:// connection strings) with a cluster of
// one: this node, the leader. It is a type of its own because its Read clashes with the Streams one.
type gossipService struct {
	gossip.UnimplementedGossipServer
	srv *Server
	id  uuid.UUID
}

func (g *gossipService) Read(context.Context, *shared.Empty) (*gossip.ClusterInfo, error) {
	host, port, err := net.SplitHostPort(g.srv.Addr())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "listen address: %v", err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "listen port: %v", err)
	}
	return &gossip.ClusterInfo{Members: []*gossip.MemberInfo{{
		InstanceId:   uuidToProto(g.id, false),
		TimeStamp:    ticks(g.srv.now()),
		State:        gossip.MemberInfo_Leader,
		IsAlive:      true,
		HttpEndPoint: &gossip.EndPoint{Address: host, Port: uint32(p)},
	}}}, nil
}
