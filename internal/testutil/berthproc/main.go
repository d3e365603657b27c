package berthproc

import (
	"fmt"
	"os"
)

// Main is the body of a black-box test package's TestMain: it makes a
// scratch directory, calls run with it (set-up, m.Run, tear-down),
// removes the directory and exits with run's code. An error from run is
// a set-up failure: it is printed as "<name> set-up: …" and exits 1.
func Main(name string, run func(work string) (code int, err error)) {
	os.Exit(main(name, run))
}

func main(name string, run func(work string) (int, error)) int {
	work, err := os.MkdirTemp("", "berth-"+name+"-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s set-up: %v\n", name, err)
		return 1
	}
	defer os.RemoveAll(work)
	code, err := run(work)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s set-up: %v\n", name, err)
		return 1
	}
	return code
}
