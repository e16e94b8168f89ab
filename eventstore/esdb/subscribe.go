package esdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"casereview/eventstore"
)

// SubscribeAll catches up from opts.From and then follows new events live, skipping system events.
//
// The v4 client does not resubscribe when the server drops a subscription (a restart, a leader
// change, a consumer judged too slow), so the subscription does: it subscribes again from the
// position of the last event it received, after a growing pause, and skips anything at or before
// that position, so the caller sees neither a gap nor a duplicate. A stream-prefix filter is applied
// by the server and checked again here. Only an authentication or permission failure ends the
// subscription with an error; everything else is retried until the context ends or Close is called.
func (s *Store) SubscribeAll(ctx context.Context, opts eventstore.SubscribeOptions) (eventstore.Subscription, error) {
	for _, p := range opts.StreamPrefix {
		if p == "" {
			return nil, fmt.Errorf("%w: empty stream prefix in the subscription filter: leave StreamPrefix empty to receive every stream", eventstore.ErrInvalidEvent)
		}
	}
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	sub := &subscription{
		store:    s,
		prefixes: append([]string(nil), opts.StreamPrefix...),
		last:     opts.From,
		events:   make(chan eventstore.RecordedEvent),
		done:     make(chan struct{}),
		parent:   ctx,
	}
	sub.ctx, sub.cancel = context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, sub.cancel)
	go func() {
		defer stop()
		sub.run()
	}()
	return sub, nil
}

type subscription struct {
	store    *Store
	prefixes []string
	parent   context.Context

	ctx    context.Context
	cancel context.CancelFunc

	events chan eventstore.RecordedEvent // unbuffered: the pump runs no further ahead than the caller
	done   chan struct{}                 // closed when the pump stops; err is set before
	err    error

	closeOnce sync.Once
	closed    atomic.Bool // set before cancel, so the pump can tell Close from other endings

	// Owned by the pump goroutine.
	last      uint64 // position of the last event received; resume strictly after it
	confirmed bool   // last is the position of an event the server sent, so the server accepts it
	fromStart bool   // the server refused last as a start position: read from the start and skip
}

// Next returns the next event, or an error once ctx is done, the subscription is closed or it failed.
func (sub *subscription) Next(ctx context.Context) (eventstore.RecordedEvent, error) {
	select {
	case e := <-sub.events:
		return e, nil
	case <-sub.done:
		return eventstore.RecordedEvent{}, sub.err
	case <-ctx.Done():
		return eventstore.RecordedEvent{}, ctx.Err()
	}
}

// Close ends the subscription and waits for it to let go of the connection.
func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() {
		sub.closed.Store(true)
		sub.cancel()
	})
	<-sub.done
	return nil
}

// run keeps a server subscription open until the subscription ends, resubscribing after drops.
func (sub *subscription) run() {
	defer close(sub.done)
	o := sub.store.opts
	pause := o.backoffMin
	for {
		delivered, err := sub.follow()
		if sub.ctx.Err() != nil {
			sub.err = sub.endReason()
			return
		}
		if errors.Is(err, eventstore.ErrClosed) {
			sub.err = err
			return
		}
		if permanent(err) {
			sub.err = fmt.Errorf("esdb: subscription to $all: %w", err)
			return
		}
		if delivered {
			pause = o.backoffMin
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-sub.ctx.Done():
			t.Stop()
			sub.err = sub.endReason()
			return
		}
		pause = min(2*pause, o.backoffMax)
	}
}

// endReason explains why the subscription's context ended.
func (sub *subscription) endReason() error {
	switch {
	case sub.closed.Load():
		return fmt.Errorf("%w: subscription closed", eventstore.ErrClosed)
	case sub.store.ctx.Err() != nil:
		return fmt.Errorf("%w: store closed", eventstore.ErrClosed)
	case sub.parent.Err() != nil:
		return sub.parent.Err()
	}
	return context.Cause(sub.ctx)
}

// permanent reports failures that retrying cannot cure.
func permanent(err error) bool {
	var ee *esdbclient.Error
	if errors.As(err, &ee) {
		switch ee.Code() {
		case esdbclient.ErrorCodeAccessDenied, esdbclient.ErrorCodeUnauthenticated:
			return true
		}
	}
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated:
		return true
	}
	return false
}

// follow runs one server subscription until it drops. delivered reports whether any event arrived.
func (sub *subscription) follow() (delivered bool, err error) {
	s := sub.store
	client, ctx, end, err := s.begin(sub.ctx)
	if err != nil {
		return false, err
	}
	defer end()

	opts := esdbclient.SubscribeToAllOptions{From: esdbclient.Start{}}
	if sub.last > 0 && !sub.fromStart {
		opts.From = esdbclient.Position{Commit: sub.last, Prepare: sub.last}
	}
	if len(sub.prefixes) > 0 {
		opts.Filter = &esdbclient.SubscriptionFilter{Type: esdbclient.StreamFilterType, Prefixes: sub.prefixes}
	}
	es, err := client.SubscribeToAll(ctx, opts)
	if err != nil {
		if ctx.Err() == nil && sub.last > 0 && !sub.confirmed && !sub.fromStart {
			// The caller's From may not be the position of an event (any number is allowed), which a
			// real server refuses. Catch up from the start instead, skipping up to From.
			sub.fromStart = true
		}
		return false, s.mapError(client, err)
	}
	defer es.Close()
	for {
		ev := es.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			return delivered, s.mapError(client, ev.SubscriptionDropped.Error)
		case ev.EventAppeared != nil:
			orig := ev.EventAppeared.OriginalEvent()
			if orig == nil || orig.Position.Commit <= sub.last {
				continue
			}
			e := decode(orig)
			if !isSystem(e) && sub.wants(e.Stream) {
				select {
				case sub.events <- e:
					delivered = true
				case <-ctx.Done():
					return delivered, ctx.Err()
				}
			}
			sub.last = e.Position
			sub.confirmed, sub.fromStart = true, false
		}
	}
}

// wants applies the stream-prefix filter on this side too, in case a server ignores it.
func (sub *subscription) wants(stream string) bool {
	if len(sub.prefixes) == 0 {
		return true
	}
	for _, p := range sub.prefixes {
		if strings.HasPrefix(stream, p) {
			return true
		}
	}
	return false
}
