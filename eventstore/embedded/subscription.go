package embedded

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"casereview/eventstore"
)

// SubscribeAll delivers events with Position > opts.From, first from the file and then as they
// are committed. Catch-up and live delivery are the same loop: read everything up to the
// committed head, then wait for the writer to announce a new head. Because the head is read
// before the query and positions at or below it are all committed, nothing is skipped or repeated.
func (s *Store) SubscribeAll(ctx context.Context, opts eventstore.SubscribeOptions) (eventstore.Subscription, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &subscription{
		store:    s,
		ctx:      ctx,
		prefixes: append([]string(nil), opts.StreamPrefix...),
		scanned:  opts.From,
		closed:   make(chan struct{}),
	}, nil
}

type subscription struct {
	store    *Store
	ctx      context.Context // the SubscribeAll context: ending it ends the subscription
	prefixes []string
	scanned  uint64 // last position read from the file, delivered or filtered out
	buf      []eventstore.RecordedEvent

	closeOnce sync.Once
	closed    chan struct{}
}

// Next returns the next matching event. It is not safe for concurrent use with itself.
func (sub *subscription) Next(ctx context.Context) (eventstore.RecordedEvent, error) {
	for {
		if err := sub.stopped(ctx); err != nil {
			return eventstore.RecordedEvent{}, err
		}
		if len(sub.buf) > 0 {
			e := sub.buf[0]
			sub.buf[0] = eventstore.RecordedEvent{} // let the collector have the data
			sub.buf = sub.buf[1:]
			return e, nil
		}
		head, wake := sub.store.headState()
		if sub.scanned < head {
			if err := sub.fill(ctx, head); err != nil {
				if stopErr := sub.stopped(ctx); stopErr != nil {
					return eventstore.RecordedEvent{}, stopErr
				}
				return eventstore.RecordedEvent{}, err
			}
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
		case <-sub.ctx.Done():
		case <-sub.closed:
		case <-sub.store.closing:
		}
	}
}

func (sub *subscription) stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sub.ctx.Err(); err != nil {
		return err
	}
	select {
	case <-sub.closed:
		return fmt.Errorf("subscription closed: %w", eventstore.ErrClosed)
	case <-sub.store.closing:
		return eventstore.ErrClosed
	default:
		return nil
	}
}

// fill buffers the next page of matching events at or below head.
func (sub *subscription) fill(ctx context.Context, head uint64) error {
	rows, err := sub.store.db.QueryContext(ctx, readSubPage, clampInt64(sub.scanned), clampInt64(head), subPageSize)
	if err != nil {
		return fmt.Errorf("embedded: subscription read after %d: %w", sub.scanned, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("embedded: subscription read after %d: %w", sub.scanned, err)
		}
		n++
		sub.scanned = e.Position
		if sub.matches(e.Stream) {
			sub.buf = append(sub.buf, e)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("embedded: subscription read after %d: %w", sub.scanned, err)
	}
	if n < subPageSize {
		sub.scanned = head
	}
	return nil
}

func (sub *subscription) matches(stream string) bool {
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

// Close ends the subscription; a Next blocked in another goroutine returns an error wrapping
// eventstore.ErrClosed.
func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() { close(sub.closed) })
	return nil
}
