module k8sq-render.test/e2e/pause

go 1.24.0
