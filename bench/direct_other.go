//go:build !linux

package main

import (
	"errors"
	"os"
)

func createDirect(string) (*os.File, error) { return nil, errors.New("no O_DIRECT") }

func clearDirect(*os.File) error { return nil }
