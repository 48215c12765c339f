// Command kube is one multi-call binary holding the Kubernetes components the
// e2e cluster runs. Linking five separate binaries of this size takes several
// minutes each on a small machine; one binary links once.
//
// The component is chosen by the name the binary is invoked under (symlinks
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl),
// or by the first argument: `kube kubectl get pods`.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // CronJob time zones, as in the upstream apiserver/controller-manager mains

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
)

// servers are the long-running components; each returns its cobra command.
var servers = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
}

func main() {
	name := filepath.Base(os.Args[0])
	if name != "kubectl" && servers[name] == nil {
		if len(os.Args) < 2 {
			usage(name)
		}
		// `kube <component> args...`: drop our own name so the component sees
		// the same os.Args it would see when invoked through a symlink.
		os.Args = os.Args[1:]
		name = os.Args[0]
	}

	if name == "kubectl" {
		// kubectl sets its log verbosity before building the command tree.
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) // nolint:errcheck
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		return
	}
	newCommand := servers[name]
	if newCommand == nil {
		usage(name)
	}
	command := newCommand()
	command.SetArgs(os.Args[1:])
	os.Exit(cli.Run(command))
}

func usage(name string) {
	names := []string{"kubectl"}
	for n := range servers {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: kube COMPONENT [args...], or invoke through a symlink named COMPONENT\nunknown component %q; known: %v\n", name, names)
	os.Exit(2)
}
