// Package devtemporal runs a Temporal server inside the casereview process on a SQLite file, as the Temporal CLI's dev server does.
package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	temporalserver "go.temporal.io/server/temporal"
)

// Options configure the embedded server.
type Options struct {
	// DatabaseFile holds all Temporal state; empty means in memory (tests).
	DatabaseFile string
	// FrontendAddr is the gRPC address clients dial, e.g. 127.0.0.1:7233; port 0 picks a free one.
	FrontendAddr string
	// Namespace is created at start when missing.
	Namespace string
	// SearchAttributes are registered on the namespace (custom attributes only, never personal data).
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's warnings and errors.
	Logger zerolog.Logger
}

// Server is a running embedded Temporal server.
type Server struct {
	srv      temporalserver.Server
	hostPort string
}

// Start starts the server and returns once its frontend accepts clients and the search attributes exist.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		return nil, errors.New("devtemporal: namespace is required")
	}
	host, portStr, err := net.SplitHostPort(opts.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: frontend address %q: want host:port: %w", opts.FrontendAddr, err)
	}
	frontendPort, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: frontend port %q is not a number", portStr)
	}
	ports, err := freePorts(host, 9)
	if err != nil {
		return nil, err
	}
	if frontendPort == 0 {
		frontendPort = ports[8]
	} else if err := checkFree(host, frontendPort); err != nil {
		return nil, err
	}
	hostPort := net.JoinHostPort(host, strconv.Itoa(frontendPort))

	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if opts.DatabaseFile == "" {
		sqlConf.ConnectAttributes["mode"] = "memory"
		sqlConf.ConnectAttributes["cache"] = "shared"
		sqlConf.DatabaseName = fmt.Sprintf("casereview-%d", time.Now().UnixNano())
	} else {
		sqlConf.ConnectAttributes["mode"] = "rwc"
		sqlConf.ConnectAttributes["_journal_mode"] = "wal"
		sqlConf.ConnectAttributes["_synchronous"] = "2" // FULL: an acknowledged workflow step survives power loss
		sqlConf.DatabaseName = opts.DatabaseFile
		if _, err := os.Stat(opts.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o700); err != nil {
				return nil, fmt.Errorf("devtemporal: %w", err)
			}
			if err := sqliteschema.SetupSchema(sqlConf); err != nil {
				return nil, fmt.Errorf("devtemporal: create schema: %w", err)
			}
		}
	}
	const clusterName = "active"
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("devtemporal: create namespace: %w", err)
	}

	conf := &config.Config{}
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"}
	conf.Persistence = config.Persistence{
		DefaultStore:     "sqlite",
		VisibilityStore:  "sqlite",
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{"sqlite": {SQL: sqlConf}},
	}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: hostPort},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	service := func(grpc, membership, httpPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, HTTPPort: httpPort, BindOnIP: host}}
	}
	conf.Services = map[string]config.Service{
		"frontend": service(frontendPort, ports[0], ports[7]),
		"history":  service(ports[1], ports[4], 0),
		"matching": service(ports[2], ports[5], 0),
		"worker":   service(ports[3], ports[6], 0),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = hostPort

	addr := func(p int) string { return net.JoinHostPort(host, strconv.Itoa(p)) }
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(hostPort),
		primitives.HistoryService:  static.SingleLocalHost(addr(ports[1])),
		primitives.MatchingService: static.SingleLocalHost(addr(ports[2])),
		primitives.WorkerService:   static.SingleLocalHost(addr(ports[3])),
	}
	logger := zerologAdapter{opts.Logger.With().Str("component", "temporal").Logger().Level(maxLevel(opts.Logger.GetLevel(), zerolog.WarnLevel))}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: claim mapper: %w", err)
	}
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key():     []dynamicconfig.ConstrainedValue{{Value: true}},
		dynamicconfig.MakeKey("frontend.enableUpdateWorkflowExecution"): []dynamicconfig.ConstrainedValue{{Value: true}},
	}
	srv, err := temporalserver.NewServer(
		temporalserver.WithConfig(conf),
		temporalserver.ForServices(temporalserver.DefaultServices),
		temporalserver.WithStaticHosts(hosts),
		temporalserver.WithLogger(logger),
		temporalserver.WithAuthorizer(authorizer),
		temporalserver.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporalserver.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: new server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devtemporal: start: %w", err)
	}
	s := &Server{srv: srv, hostPort: hostPort}
	if err := EnsureSearchAttributes(ctx, hostPort, opts.Namespace, opts.SearchAttributes); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// HostPort is the frontend address for clients.
func (s *Server) HostPort() string { return s.hostPort }

// Stop stops the server.
func (s *Server) Stop() error { return s.srv.Stop() }

// EnsureSearchAttributes registers custom search attributes on a namespace; repeating it is harmless.
// It is for servers whose namespace predates an attribute (and for temporaltest, which creates none).
func EnsureSearchAttributes(ctx context.Context, hostPort, namespace string, attrs map[string]enumspb.IndexedValueType) error {
	if len(attrs) == 0 {
		return nil
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Namespace: namespace, Logger: quietSDKLogger{}})
	if err != nil {
		return fmt.Errorf("devtemporal: dial %s: %w", hostPort, err)
	}
	defer c.Close()
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("devtemporal: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range attrs {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("devtemporal: add search attributes: %w", err)
	}
	return nil
}

func freePorts(host string, n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("devtemporal: find a free port on %s: %w", host, err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func checkFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("devtemporal: Temporal frontend port %d on %s is in use (another casereview dev or Temporal server?); stop it or choose another with --temporal-port: %w", port, host, err)
	}
	return l.Close()
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}

// zerologAdapter writes the server's log lines through zerolog.
type zerologAdapter struct{ l zerolog.Logger }

func (z zerologAdapter) log(e *zerolog.Event, msg string, tags []tag.Tag) {
	for _, t := range tags {
		e = e.Interface(t.Key(), t.Value())
	}
	e.Msg(msg)
}

func (z zerologAdapter) Debug(msg string, tags ...tag.Tag)  { z.log(z.l.Debug(), msg, tags) }
func (z zerologAdapter) Info(msg string, tags ...tag.Tag)   { z.log(z.l.Info(), msg, tags) }
func (z zerologAdapter) Warn(msg string, tags ...tag.Tag)   { z.log(z.l.Warn(), msg, tags) }
func (z zerologAdapter) Error(msg string, tags ...tag.Tag)  { z.log(z.l.Error(), msg, tags) }
func (z zerologAdapter) DPanic(msg string, tags ...tag.Tag) { z.log(z.l.Error(), msg, tags) }
func (z zerologAdapter) Panic(msg string, tags ...tag.Tag)  { z.log(z.l.Error(), msg, tags); panic(msg) }
func (z zerologAdapter) Fatal(msg string, tags ...tag.Tag)  { z.log(z.l.Fatal(), msg, tags) }

var _ log.Logger = zerologAdapter{}

type quietSDKLogger struct{}

func (quietSDKLogger) Debug(string, ...any) {}
func (quietSDKLogger) Info(string, ...any)  {}
func (quietSDKLogger) Warn(string, ...any)  {}
func (quietSDKLogger) Error(string, ...any) {}
