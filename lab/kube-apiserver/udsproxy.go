package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// runUDSProxy forwards connections made to a Unix socket to a TCP address.
// Path-based Unix sockets are reachable across network namespaces, so a test
// process in the root namespace can reach an API server that listens only
// inside a lab namespace without any address or route in the root namespace.
func runUDSProxy(args []string) int {
	fs := flag.NewFlagSet("uds-proxy", flag.ExitOnError)
	listen := fs.String("listen", "", "Unix socket path to listen on (required)")
	target := fs.String("target", "", "host:port to forward to (required)")
	_ = fs.Parse(args)
	if *listen == "" || *target == "" {
		fmt.Fprintln(os.Stderr, "uds-proxy: --listen and --target are required")
		return 2
	}
	_ = os.Remove(*listen)
	listener, err := net.Listen("unix", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "uds-proxy: %v\n", err)
		return 1
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		_ = listener.Close()
	}()
	fmt.Fprintf(os.Stderr, "uds-proxy: %s -> %s\n", *listen, *target)
	for {
		client, err := listener.Accept()
		if err != nil {
			return 0
		}
		go forward(client, *target)
	}
}

func forward(client net.Conn, target string) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, server); done <- struct{}{} }()
	<-done
}
