// This module only keeps `go test ./...` and `go vet ./...` of berth out of
// web/ (and its node_modules); web/ holds no Go code.
module berth.invalid/web

go 1.26
