// Command etcd runs etcd's own entry point (the same one etcd's release binary
// uses), built from the pinned server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
