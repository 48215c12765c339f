// Command pause is the process of every pod sandbox in the e2e cluster: it
// keeps the pod's namespaces alive, reaps orphaned children (it is PID 1 of the
// pod) and exits cleanly on SIGINT/SIGTERM. There is no registry to pull the
// usual pause image from, so the cluster builds this one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s == syscall.SIGCHLD {
			reapChildren()
			continue
		}
		os.Exit(0)
	}
}

// reapChildren collects every exited child so no zombie is left behind.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
