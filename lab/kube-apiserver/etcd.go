package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func runEtcd(args []string) int {
	fs := flag.NewFlagSet("etcd", flag.ExitOnError)
	dataDir := fs.String("data-dir", "", "etcd data directory (required)")
	listen := fs.String("listen-client", "127.0.0.1:2379", "address:port for plain-HTTP clients")
	// Single-member cluster: the peer listener is never dialled, but embed
	// insists on one, so by default it takes any free port on the client
	// address (loopback may be down in a lab namespace).
	peer := fs.String("listen-peer", "", "address:port for the (unused) peer listener (default: client address, any port)")
	logLevel := fs.String("log-level", "warn", "etcd log level")
	_ = fs.Parse(args)
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "etcd: --data-dir is required")
		return 2
	}

	cfg := embed.NewConfig()
	cfg.Name = "vipd-test"
	cfg.Dir = *dataDir
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}
	if *peer == "" {
		host, _, err := net.SplitHostPort(*listen)
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd: --listen-client %q: %v\n", *listen, err)
			return 2
		}
		*peer = net.JoinHostPort(host, "0")
	}
	clientURL := url.URL{Scheme: "http", Host: *listen}
	peerURL := url.URL{Scheme: "http", Host: *peer}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	// The advertised peer URL only has to match the initial cluster entry.
	advertisedPeer := url.URL{Scheme: "http", Host: "127.0.0.1:2380"}
	cfg.AdvertisePeerUrls = []url.URL{advertisedPeer}
	cfg.InitialCluster = cfg.Name + "=" + advertisedPeer.String()

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: start: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd: ready, serving clients on %s\n", clientURL.String())
	case <-time.After(60 * time.Second):
		e.Close()
		fmt.Fprintln(os.Stderr, "etcd: not ready after 60s")
		return 1
	case s := <-sigs:
		e.Close()
		fmt.Fprintf(os.Stderr, "etcd: %v before ready, stopped\n", s)
		return 0
	}

	select {
	case s := <-sigs:
		e.Close()
		fmt.Fprintf(os.Stderr, "etcd: %v, stopped\n", s)
		return 0
	case err := <-e.Err():
		e.Close()
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		return 1
	}
}
