// Command vipd-testcluster bundles everything the vipd test lab needs from the
// Kubernetes ecosystem into one binary, so a single cached build serves tests,
// the demo and benchmarks without depending on packages installed on the host.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// parentEnv names the PID of the process that launched us. When it is set, we
// die with that parent even if it is SIGKILLed and gets no chance to clean up,
// so a crashed test run never leaves an API server or etcd behind.
const parentEnv = "VIPD_TESTCLUSTER_PARENT_PID"

var subcommands = map[string]func(args []string) int{
	"etcd":           runEtcd,
	"kube-apiserver": runKubeAPIServer,
	"kubectl":        runKubectl,
	"pki":            runPKI,
	"uds-proxy":      runUDSProxy,
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	run, ok := subcommands[os.Args[1]]
	if !ok {
		usage()
	}
	if err := dieWithParent(); err != nil {
		fmt.Fprintf(os.Stderr, "vipd-testcluster: %v\n", err)
		os.Exit(1)
	}
	// Upstream commands read os.Args themselves (cobra), so they must see their
	// own name in argv[0] and only their own flags after it.
	os.Args = append([]string{os.Args[1]}, os.Args[2:]...)
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vipd-testcluster etcd|kube-apiserver|kubectl|pki|uds-proxy [flags]")
	os.Exit(2)
}

func dieWithParent() error {
	value, ok := os.LookupEnv(parentEnv)
	if !ok {
		return nil
	}
	parent, err := strconv.Atoi(value)
	if err != nil {
		return fmt.Errorf("%s=%q is not a PID", parentEnv, value)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %v", errno)
	}
	// The parent may have died before prctl took effect; then we were already
	// reparented and no signal will ever come.
	if os.Getppid() != parent {
		return fmt.Errorf("parent %d is gone", parent)
	}
	return nil
}
