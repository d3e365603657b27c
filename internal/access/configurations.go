package access

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// System configuration that administrators change at run time (Harbor's
// PUT /configurations). Each value lives in the settings table, so every
// node sees a change; nodes read them through a cache that lives confTTL,
// so a change made on one node reaches the others within seconds (and the
// node that made it at once). A key never set has its default: the
// configuration file's value where the file has one.

// confTTL bounds how stale a node's view of the configuration may be.
const confTTL = 2 * time.Second

// Settings keys of the run-time configuration.
const (
	confProjectCreation    = "config.project_creation_restriction"
	confStoragePerProject  = "config.storage_per_project"
	confReadOnly           = "config.read_only"
	confRobotTokenDuration = "config.robot_token_duration"
	confBannerMessage      = "config.banner_message"
)

// Configuration is the run-time configuration.
type Configuration struct {
	SelfRegistration   bool
	ProjectCreation    string // CreationEveryone or CreationAdminOnly
	StoragePerProject  int64  // bytes; the storage limit of new projects, -1 unlimited
	ReadOnly           bool   // refuse every push and delete
	RobotTokenDuration int64  // days; the default lifetime offered for new robots
	BannerMessage      string // shown by the UI (Harbor's JSON-encoded banner object)
	AuthMode           string // AuthDB, AuthOIDC or AuthLDAP
	// Extra holds every provider key (WithConfigKeys): its value, or its
	// default when never set; secret ones unsealed.
	Extra map[string]string
}

// ConfigurationUpdate holds the values to change; nil keeps a value.
type ConfigurationUpdate struct {
	SelfRegistration   *bool
	ProjectCreation    *string
	StoragePerProject  *int64
	ReadOnly           *bool
	RobotTokenDuration *int64
	BannerMessage      *string
	AuthMode           *string
	Extra              map[string]string // provider keys to set
}

// confCache is one node's view of the configuration. The zero value is
// empty and ready.
type confCache struct {
	mu      sync.Mutex
	val     Configuration
	expires time.Time
}

func (c *confCache) get(now time.Time) (Configuration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.val, now.Before(c.expires)
}

func (c *confCache) put(v Configuration, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.val, c.expires = v, expires
}

func (c *confCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expires = time.Time{}
}

// Configuration returns the run-time configuration, at most confTTL old.
func (s *Service) Configuration(ctx context.Context) (Configuration, error) {
	now := time.Now()
	if v, fresh := s.conf.get(now); fresh {
		return v, nil
	}
	v, err := s.loadConfiguration(ctx)
	if err != nil {
		return Configuration{}, err
	}
	s.conf.put(v, now.Add(confTTL))
	return v, nil
}

func (s *Service) loadConfiguration(ctx context.Context) (Configuration, error) {
	v := Configuration{
		ProjectCreation:    s.projectCreation,
		StoragePerProject:  -1,
		RobotTokenDuration: 30,
		AuthMode:           AuthDB,
		Extra:              map[string]string{},
	}
	q := s.db.Q()
	read := func(key string, set func(string) error) error {
		b, err := q.GetSetting(ctx, key)
		if errs.Is(err, errs.NotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read configuration: %w", err)
		}
		if err := set(string(b)); err != nil {
			// A value this binary cannot read keeps the default rather
			// than stopping every request that consults it.
			s.log.Warn("ignoring a stored configuration value", "key", key, "err", err)
		}
		return nil
	}
	parseBool := func(dst *bool) func(string) error {
		return func(x string) (err error) { *dst, err = strconv.ParseBool(x); return err }
	}
	parseInt := func(dst *int64) func(string) error {
		return func(x string) (err error) { *dst, err = strconv.ParseInt(x, 10, 64); return err }
	}
	for _, r := range []struct {
		key string
		set func(string) error
	}{
		{selfRegistrationSetting, parseBool(&v.SelfRegistration)},
		{confProjectCreation, func(x string) error { v.ProjectCreation = x; return checkCreation(x) }},
		{confStoragePerProject, parseInt(&v.StoragePerProject)},
		{confReadOnly, parseBool(&v.ReadOnly)},
		{confRobotTokenDuration, parseInt(&v.RobotTokenDuration)},
		{confBannerMessage, func(x string) error { v.BannerMessage = x; return nil }},
		{confAuthMode, func(x string) error { v.AuthMode = x; return checkAuthMode(x) }},
	} {
		if err := read(r.key, r.set); err != nil {
			return Configuration{}, err
		}
	}
	if checkAuthMode(v.AuthMode) != nil {
		v.AuthMode = AuthDB
	}
	for _, k := range s.extraKeys {
		v.Extra[k.Name] = k.Default
		err := read(extraSetting(k.Name), func(x string) error {
			if k.Secret {
				plain, err := s.Unseal("config:"+k.Name, []byte(x))
				if err != nil {
					return err
				}
				x = string(plain)
			}
			v.Extra[k.Name] = x
			return nil
		})
		if err != nil {
			return Configuration{}, err
		}
	}
	if checkCreation(v.ProjectCreation) != nil {
		v.ProjectCreation = s.projectCreation
	}
	return v, nil
}

func checkCreation(v string) error {
	if v != CreationEveryone && v != CreationAdminOnly {
		return errs.New(errs.Invalid, "", "project_creation_restriction must be %q or %q, got %q",
			CreationEveryone, CreationAdminOnly, clip(v))
	}
	return nil
}

// GetConfiguration returns the run-time configuration to a system
// administrator.
func (s *Service) GetConfiguration(ctx context.Context, p Principal) (Configuration, error) {
	if !p.SysAdmin {
		return Configuration{}, forbidden(p, "read the system configuration")
	}
	return s.Configuration(ctx)
}

// UpdateConfiguration changes the values u sets, all or none, if p is a
// system administrator.
func (s *Service) UpdateConfiguration(ctx context.Context, p Principal, source string, u ConfigurationUpdate) error {
	if !p.SysAdmin {
		return forbidden(p, "change the system configuration")
	}
	type kv struct{ key, val string }
	var set []kv
	if u.SelfRegistration != nil {
		set = append(set, kv{selfRegistrationSetting, strconv.FormatBool(*u.SelfRegistration)})
	}
	if u.ProjectCreation != nil {
		if err := checkCreation(*u.ProjectCreation); err != nil {
			return err
		}
		set = append(set, kv{confProjectCreation, *u.ProjectCreation})
	}
	if u.StoragePerProject != nil {
		if *u.StoragePerProject < -1 {
			return errs.New(errs.Invalid, "", "storage_per_project must be -1 (unlimited) or a number of bytes, got %d", *u.StoragePerProject)
		}
		set = append(set, kv{confStoragePerProject, strconv.FormatInt(*u.StoragePerProject, 10)})
	}
	if u.ReadOnly != nil {
		set = append(set, kv{confReadOnly, strconv.FormatBool(*u.ReadOnly)})
	}
	if u.RobotTokenDuration != nil {
		if *u.RobotTokenDuration <= 0 || *u.RobotTokenDuration > maxRobotDays {
			return errs.New(errs.Invalid, "", "robot_token_duration must be a number of days between 1 and %d, got %d",
				maxRobotDays, *u.RobotTokenDuration)
		}
		set = append(set, kv{confRobotTokenDuration, strconv.FormatInt(*u.RobotTokenDuration, 10)})
	}
	if u.BannerMessage != nil {
		if err := checkText("banner_message", *u.BannerMessage); err != nil {
			return err
		}
		if len(*u.BannerMessage) > 4096 {
			return errs.New(errs.Invalid, "", "banner_message is longer than 4096 bytes")
		}
		set = append(set, kv{confBannerMessage, *u.BannerMessage})
	}
	if u.AuthMode != nil {
		cur, err := s.Configuration(ctx)
		if err != nil {
			return err
		}
		if err := s.checkAuthModeChange(ctx, cur.AuthMode, *u.AuthMode); err != nil {
			return err
		}
		set = append(set, kv{confAuthMode, *u.AuthMode})
	}
	for _, name := range sortedKeys(u.Extra) {
		val := u.Extra[name]
		if err := s.checkExtra(name, val); err != nil {
			return err
		}
		if k, _ := s.configKey(name); k.Secret {
			sealed, err := s.Seal("config:"+name, []byte(val))
			if err != nil {
				return err
			}
			set = append(set, kv{extraSetting(name), string(sealed)})
			continue
		}
		set = append(set, kv{extraSetting(name), val})
	}
	if len(set) == 0 {
		return nil
	}
	err := s.db.Tx(ctx, func(q *meta.Q) error {
		for _, x := range set {
			if err := q.PutSetting(ctx, x.key, []byte(x.val)); err != nil {
				return err
			}
		}
		return nil
	})
	s.conf.invalidate()
	if err != nil {
		return fmt.Errorf("store configuration: %w", err)
	}
	detail := ""
	for i, x := range set {
		if i > 0 {
			detail += ", "
		}
		val := clip(x.val)
		if k, ok := s.configKey(strings.TrimPrefix(x.key, "config.")); ok && k.Secret {
			val = "***" // never in the audit log
		}
		detail += x.key + "=" + val
	}
	s.Audit(ctx, meta.AuditLog{Username: p.Name(), Resource: "configurations", ResourceType: "configuration",
		Operation: "update", SourceIP: source, Detail: detail})
	return nil
}

// ReadOnly reports whether the registry refuses pushes and deletes. When
// the configuration cannot be read it answers false: a database that
// cannot be read refuses writes on its own.
func (s *Service) ReadOnly(ctx context.Context) bool {
	v, err := s.Configuration(ctx)
	if err != nil {
		s.log.Warn("read configuration", "err", err)
		return false
	}
	return v.ReadOnly
}

// ErrReadOnly is the refusal of a change while the registry is read-only.
func ErrReadOnly() error {
	return errs.New(errs.Denied, "DENIED", "the registry is in read-only mode: pushes and deletes are refused until an administrator turns read_only off")
}

// currentConfiguration is Configuration for callers without a context or
// an error path: the configuration file's values when the store cannot
// be read.
func (s *Service) currentConfiguration() Configuration {
	v, err := s.Configuration(context.Background())
	if err != nil {
		s.log.Warn("read configuration", "err", err)
		return Configuration{ProjectCreation: s.projectCreation, StoragePerProject: -1, RobotTokenDuration: 30,
			AuthMode: AuthDB, Extra: map[string]string{}}
	}
	return v
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
