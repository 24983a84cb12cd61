package main

import (
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func runKubeAPIServer(_ []string) int {
	return cli.Run(app.NewAPIServerCommand())
}

func runKubectl(_ []string) int {
	// Same as upstream cmd/kubectl: kubectl prints its own errors.
	if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
		return 1
	}
	return 0
}
