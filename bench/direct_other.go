//go:build !linux

package main

import (
	"errors"
	"os"
	"syscall"
)

func createDirect(string) (*os.File, error) { return nil, errors.New("no O_DIRECT") }

func clearDirect(*os.File) error { return nil }

// freeBytes is unknown here: the space check is skipped.
func freeBytes(string) (int64, error) { return 0, errors.New("free space unknown") }

// settle does nothing here.
func settle() {}

// dropFileCaches does nothing here.
func dropFileCaches(string) error { return nil }

// childAttr is the default here: a registry bench starts is stopped when
// bench returns, not when it is killed.
func childAttr() *syscall.SysProcAttr { return nil }
