package signaturetest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// A small CBOR writer for building COSE_Sign1 envelopes in tests.

// kv is one map entry; maps keep the order given.
type kv struct {
	k, v any
}

// tag is a CBOR tag.
type tag struct {
	n uint64
	v any
}

func head(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major<<5|byte(n))
	case n <= 0xff:
		return append(b, major<<5|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, major<<5|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, major<<5|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, major<<5|27), n)
}

func cbor(b []byte, v any) []byte {
	switch x := v.(type) {
	case int:
		if x >= 0 {
			return head(b, 0, uint64(x))
		}
		return head(b, 1, uint64(-1-x))
	case int64:
		return cbor(b, int(x))
	case []byte:
		return append(head(b, 2, uint64(len(x))), x...)
	case string:
		return append(head(b, 3, uint64(len(x))), x...)
	case []any:
		b = head(b, 4, uint64(len(x)))
		for _, e := range x {
			b = cbor(b, e)
		}
		return b
	case []kv:
		b = head(b, 5, uint64(len(x)))
		for _, e := range x {
			b = cbor(cbor(b, e.k), e.v)
		}
		return b
	case tag:
		return cbor(head(b, 6, x.n), x.v)
	}
	panic(fmt.Sprintf("cbor: unsupported %T", v))
}

// coseEnvelope builds a COSE_Sign1 (tag 18) Notation envelope, ES256.
func coseEnvelope(ca *CA, payload []byte, o NotationOptions) ([]byte, error) {
	protected := cbor(nil, []kv{
		{1, -7}, // alg ES256
		{2, []any{"io.cncf.notary.signingScheme"}},
		{3, "application/vnd.cncf.notary.payload.v1+json"},
		{"io.cncf.notary.signingScheme", "notary.x509"},
		{"io.cncf.notary.signingTime", tag{1, o.SigningTime.Unix()}},
	})
	toSign := cbor(nil, []any{"Signature1", protected, []byte{}, payload})
	h := sha256.Sum256(toSign)
	r, s, err := ecdsa.Sign(rand.Reader, ca.LeafKey, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	if o.Tamper {
		sig[5] ^= 1
	}
	unprotected := []kv{
		{33, []any{ca.Leaf.Raw, ca.Intermediate.Raw, ca.Root.Raw}},
		{"io.cncf.notary.signingAgent", "berth-test/1.0"},
	}
	return cbor(nil, tag{18, []any{protected, unprotected, payload, sig}}), nil
}
