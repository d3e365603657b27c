package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// configFlag names the YAML file; it is read, not a setting itself.
const (
	configFlag = "config"
	configEnv  = "BERTH_CONFIG"
)

// A UsageError is a malformed command line (unknown flag, missing flag
// value, stray argument), as opposed to a bad configuration value.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Load builds the configuration of `berth serve` from its flags (args,
// without the subcommand), the environment (getenv) and the YAML file
// named by --config or BERTH_CONFIG, fills defaults, resolves relative
// paths against the data directory, and validates the result.
//
// For each key the first source that sets it wins: flag, environment,
// file, default. A key has up to two variables: BERTH_<SECTION>_<KEY> and,
// for keys with a flag, the flag's own name (BERTH_ADDR for --addr); if
// both are set they must agree. An empty variable counts as unset.
//
// Errors name the flag, variable or key at fault. A command-line mistake
// is a *UsageError; -h or --help returns flag.ErrHelp.
func Load(args []string, getenv func(string) string) (Config, error) {
	sets := settings()
	fs, flags := newFlagSet(sets)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, flag.ErrHelp
		}
		return Config{}, &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return Config{}, &UsageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	path := getenv(configEnv)
	if given[configFlag] {
		path = flags[configFlag].value
	}
	var file map[string]string
	if path != "" {
		var err error
		if file, err = readFile(path, sets); err != nil {
			return Config{}, err
		}
	}

	c := defaults()
	sources := map[string]string{} // key -> flag or variable that set it
	var errs []error
	for _, s := range sets {
		var v, src string
		switch {
		case s.flag != "" && given[s.flag]:
			v, src = flags[s.flag].value, "--"+s.flag
		default:
			var err error
			if v, src, err = lookupEnv(s, getenv); err != nil {
				errs = append(errs, err)
				continue
			}
			if src == "" {
				var ok bool
				if v, ok = file[s.key]; !ok {
					continue
				}
			}
		}
		sources[s.key] = src
		if err := s.set(&c, v); err != nil {
			errs = append(errs, &FieldError{Key: s.key, Source: src, Err: err})
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	// The AWS tools' variables stand in for the S3 keys.
	for _, aws := range []struct {
		key, env string
		field    *string
	}{
		{"storage.s3_access_key", "AWS_ACCESS_KEY_ID", &c.Storage.S3AccessKey},
		{"storage.s3_secret_key", "AWS_SECRET_ACCESS_KEY", &c.Storage.S3SecretKey},
	} {
		if v := getenv(aws.env); *aws.field == "" && v != "" {
			*aws.field, sources[aws.key] = v, aws.env
		}
	}

	if err := c.resolvePaths(); err != nil {
		return Config{}, &FieldError{Key: "data_dir", Source: sources["data_dir"], Err: err}
	}
	for _, fe := range c.problems() {
		fe.Source = sources[fe.Key]
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// lookupEnv returns the value of the variable that sets s, and the
// variable's name, or "" for the name if none is set.
func lookupEnv(s setting, getenv func(string) string) (value, name string, err error) {
	names := []string{envName(s.key)}
	if s.flag != "" {
		if n := flagEnvName(s.flag); n != names[0] {
			names = append(names, n)
		}
	}
	for _, n := range names {
		v := getenv(n)
		if v == "" {
			continue
		}
		if name != "" && v != value {
			// Values are not shown: database URLs carry passwords.
			return "", "", &FieldError{Key: s.key, Source: name, Err: fmt.Errorf("conflicts with %s; set only one", n)}
		}
		value, name = v, n
	}
	return value, name, nil
}

// resolvePaths makes DataDir absolute, derives the database and storage
// defaults from it, and anchors relative file paths there.
func (c *Config) resolvePaths() error {
	if c.DataDir == "" {
		return errors.New("must not be empty") // and nothing can be derived
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = dir
	under := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}

	switch {
	case c.Database.URL == "":
		c.Database.URL = filepath.Join(dir, "berth.db")
	case !c.Database.Postgres() && checkDatabase(c.Database.URL) == nil:
		// One SQLite form for the app: an absolute path, then parameters.
		p, q := sqliteParts(c.Database.URL)
		c.Database.URL = under(p)
		if q != "" {
			c.Database.URL += "?" + q
		}
	}

	if c.Storage.URL == "" {
		c.Storage.URL = "file://" + filepath.Join(dir, "blobs")
	} else if p, ok := c.Storage.FilePath(); ok && p != "" {
		c.Storage.URL = "file://" + under(p)
	}

	c.TLS.Cert = under(c.TLS.Cert)
	c.TLS.Key = under(c.TLS.Key)
	return nil
}

// flagValue holds a flag as the string it was given, so that flags go
// through the same parser, and produce the same errors, as other sources.
type flagValue struct {
	value  string
	isBool bool
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.value
}

func (f *flagValue) Set(s string) error { f.value = s; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

func newFlagSet(sets []setting) (*flag.FlagSet, map[string]*flagValue) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller reports errors and prints Usage
	values := map[string]*flagValue{}
	for _, s := range sets {
		if s.flag != "" {
			values[s.flag] = &flagValue{isBool: s.arg == ""}
			fs.Var(values[s.flag], s.flag, s.usage)
		}
	}
	values[configFlag] = &flagValue{}
	fs.Var(values[configFlag], configFlag, "YAML configuration file")
	return fs, values
}

// Usage writes the flags of `berth serve`, with their variables and
// defaults.
func Usage(w io.Writer) {
	line := func(flag, arg, usage, env, def string) {
		if arg != "" {
			flag += " " + arg
		}
		more := "env " + env
		if def != "" {
			more = "default " + def + "; " + more
		}
		fmt.Fprintf(w, "  --%s\n        %s (%s)\n", flag, usage, more)
	}
	line(configFlag, "FILE", "YAML configuration file", configEnv, "")
	for _, s := range settings() {
		if s.flag != "" {
			line(s.flag, s.arg, s.usage, flagEnvName(s.flag), s.def)
		}
	}
	fmt.Fprintf(w, `
Every key of the configuration file can also be set by BERTH_<SECTION>_<KEY>,
e.g. tls.mode by BERTH_TLS_MODE. Keys:
  %s
Precedence: flag, then environment, then file, then default.
`, strings.Join(keys(), ", "))
}

func keys() []string {
	var ks []string
	for _, s := range settings() {
		ks = append(ks, s.key)
	}
	return ks
}

// readFile reads the YAML file at path into values by dotted key.
func readFile(path string, sets []setting) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	values, err := parseYAML(data, sets)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return values, nil
}
