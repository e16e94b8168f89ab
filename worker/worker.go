// Package worker wires casereview's workflows and activities into a Temporal worker with encrypted payloads.
package worker

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"casereview/activities"
	"casereview/logging"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

// Register adds every workflow and activity to a worker.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflow(workflows.Review)
	r.RegisterWorkflow(workflows.AgencyRequest)
	r.RegisterWorkflow(workflows.ActionItem)
	r.RegisterActivity(acts)
}

// ClientOptions are the options of every casereview Temporal client: payloads encrypted with kr.
func ClientOptions(hostPort, namespace string, kr *payloadcrypt.Keyring, log zerolog.Logger) client.Options {
	return client.Options{
		HostPort:      hostPort,
		Namespace:     namespace,
		DataConverter: payloadcrypt.DataConverter(kr),
		// Error messages land in history too, and one may quote a child's name.
		FailureConverter: payloadcrypt.FailureConverter(kr),
		Logger:           logging.Temporal(log.With().Str("component", "temporal-client").Logger().Level(zerolog.WarnLevel)),
	}
}

// Run polls the task queue until ctx ends, or returns the error that stopped the worker for good.
func Run(ctx context.Context, c client.Client, acts *activities.Activities) error {
	fatal := make(chan error, 1)
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{OnFatalError: func(err error) { fatal <- err }})
	Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	select {
	case <-ctx.Done():
		w.Stop()
		return nil
	case err := <-fatal:
		w.Stop()
		return fmt.Errorf("worker stopped: %w", err)
	}
}
