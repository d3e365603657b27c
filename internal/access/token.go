package access

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// ResourceActions is one entry of a token's access claim, as in the Docker
// token specification.
type ResourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Claims are what a registry token asserts.
type Claims struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  string            `json:"aud"`
	Expiry    int64             `json:"exp"`
	NotBefore int64             `json:"nbf"`
	IssuedAt  int64             `json:"iat"`
	ID        string            `json:"jti"`
	Access    []ResourceActions `json:"access"`
	// Who the subject is, so that a token can be re-checked against a
	// disabled account or a deleted robot without parsing names.
	Kind    string `json:"berth_kind"` // "user", "robot" or "anonymous"
	UserID  int64  `json:"berth_uid,omitempty"`
	RobotID int64  `json:"berth_rid,omitempty"`
}

// Signer issues and verifies registry tokens with an HMAC-SHA256 key that
// every node shares through the database.
type Signer struct {
	key    []byte
	issuer string
	now    func() time.Time
	// verified remembers tokens whose signature and issuer were checked,
	// so that a client presenting the same token on every request does
	// not pay for the MAC and the JSON again; lifetime and audience are
	// checked on every use.
	mu       sync.RWMutex
	verified map[string]Claims
}

// verifiedMax bounds the remembered tokens; past it they are forgotten.
const verifiedMax = 10000

// NewSigner returns a signer for key (at least 32 bytes).
func NewSigner(key []byte, issuer string, now func() time.Time) *Signer {
	return &Signer{key: key, issuer: issuer, now: now}
}

var b64 = base64.RawURLEncoding

const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

// Issue signs claims, filling issuer, times and id.
func (s *Signer) Issue(c Claims, ttl time.Duration) (string, time.Time, error) {
	now := s.now()
	c.Issuer = s.issuer
	c.IssuedAt = now.Unix()
	c.NotBefore = now.Add(-time.Minute).Unix() // tolerate clock skew between nodes
	exp := now.Add(ttl)
	c.Expiry = exp.Unix()
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	c.ID = hex.EncodeToString(id)
	if c.Access == nil {
		c.Access = []ResourceActions{}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	unsigned := b64.EncodeToString([]byte(jwtHeader)) + "." + b64.EncodeToString(payload)
	return unsigned + "." + b64.EncodeToString(s.mac(unsigned)), exp, nil
}

func (s *Signer) mac(msg string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func invalidToken(msg string) error {
	return errs.New(errs.Unauthorized, "UNAUTHORIZED", "invalid token: %s", msg)
}

// Verify checks a token's signature, issuer, audience and lifetime.
func (s *Signer) Verify(token, audience string) (Claims, error) {
	if len(token) > 64<<10 {
		return Claims{}, invalidToken("too long")
	}
	s.mu.RLock()
	c, ok := s.verified[token]
	s.mu.RUnlock()
	if !ok {
		var err error
		if c, err = s.verify(token); err != nil {
			return Claims{}, err
		}
		s.mu.Lock()
		if s.verified == nil || len(s.verified) >= verifiedMax {
			s.verified = make(map[string]Claims)
		}
		s.verified[token] = c
		s.mu.Unlock()
	}
	now := s.now().Unix()
	switch {
	case audience != "" && c.Audience != audience:
		return Claims{}, invalidToken("wrong audience")
	case now >= c.Expiry:
		return Claims{}, invalidToken("expired")
	case now < c.NotBefore:
		return Claims{}, invalidToken("not yet valid")
	}
	return c, nil
}

// verify checks a token's form, signature and issuer.
func (s *Signer) verify(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, invalidToken("malformed")
	}
	hdr, err := b64.DecodeString(parts[0])
	if err != nil {
		return Claims{}, invalidToken("malformed header")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hdr, &h) != nil || h.Alg != "HS256" {
		return Claims{}, invalidToken("unsupported algorithm")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return Claims{}, invalidToken("bad signature")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return Claims{}, invalidToken("malformed payload")
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, invalidToken("malformed claims")
	}
	if c.Issuer != s.issuer {
		return Claims{}, invalidToken("wrong issuer")
	}
	return c, nil
}

// Allows reports whether the claims grant action on typ:name.
func (c Claims) Allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type != typ || a.Name != name {
			continue
		}
		for _, act := range a.Actions {
			if act == action || act == ActAll {
				return true
			}
		}
	}
	return false
}

// PrincipalOf returns the principal a token was issued to, as it stands
// now: a disabled user, or a disabled, expired or deleted robot, is refused.
func (s *Service) PrincipalOf(ctx context.Context, c Claims) (Principal, error) {
	switch c.Kind {
	case "user", "robot":
	case "anonymous", "":
		return Principal{}, nil
	default:
		return Principal{}, invalidToken("unknown subject kind")
	}
	k := principalKey{kind: c.Kind, id: c.UserID}
	if c.Kind == "robot" {
		k.id = c.RobotID
	}
	// The generation is read before the row, so that a change committed
	// after it was read can never be served from the cache.
	gen := s.db.IdentityGeneration()
	now := s.now()
	if p, ok := s.principals.get(k, gen, now); ok {
		return p, nil
	}
	p, err := s.principalOf(ctx, c)
	if err != nil {
		return Principal{}, err
	}
	exp := now.Add(PrincipalCacheTTL)
	if p.Robot != nil && p.Robot.ExpiresAt >= 0 {
		if re := time.Unix(p.Robot.ExpiresAt, 0); re.Before(exp) {
			exp = re
		}
	}
	s.principals.put(k, principalEntry{p: p, gen: gen, exp: exp})
	return p, nil
}

// principalOf reads the rows behind PrincipalOf.
func (s *Service) principalOf(ctx context.Context, c Claims) (Principal, error) {
	q := s.db.Q()
	switch c.Kind {
	case "user":
		u, err := q.GetUser(ctx, c.UserID)
		if errs.Is(err, errs.NotFound) || (err == nil && u.Disabled) {
			return Principal{}, invalidToken("the account is no longer active")
		}
		if err != nil {
			return Principal{}, err
		}
		return s.PrincipalFor(ctx, u)
	case "robot":
		r, err := q.GetRobot(ctx, c.RobotID)
		if errs.Is(err, errs.NotFound) {
			return Principal{}, invalidToken("the robot account no longer exists")
		}
		if err != nil {
			return Principal{}, err
		}
		if why := robotUsable(r, s.now()); why != "" {
			return Principal{}, invalidToken(why)
		}
		return robotPrincipal(r, s.robotPrefix)
	}
	return Principal{}, invalidToken("unknown subject kind")
}

// IssueFor signs a token for p granting access. A robot's token never
// outlives the robot.
func (s *Service) IssueFor(p Principal, audience string, granted []ResourceActions) (string, time.Time, error) {
	c := Claims{Subject: p.Name(), Audience: audience, Access: granted}
	ttl := s.tokenTTL
	switch p.Kind {
	case UserKind:
		c.Kind, c.UserID = "user", p.UserID
	case RobotKind:
		c.Kind, c.RobotID = "robot", p.Robot.ID
		if p.Robot.ExpiresAt >= 0 {
			if left := time.Unix(p.Robot.ExpiresAt, 0).Sub(s.now()); left < ttl {
				ttl = max(left, time.Second)
			}
		}
	default:
		c.Kind = "anonymous"
	}
	return s.signer.Issue(c, ttl)
}
