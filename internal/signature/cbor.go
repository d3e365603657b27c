package signature

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A minimal CBOR (RFC 8949) reader for COSE_Sign1 envelopes: definite
// lengths only, bounded depth. Values decode to uint64 and int64
// (integers), []byte, string, []any, map[any]any (keys int64 or string),
// cborTag, bool and nil.

type cborTag struct {
	Number uint64
	Value  any
}

const maxCBORDepth = 16

var errCBOR = errors.New("malformed CBOR")

// decodeCBOR decodes exactly one item from b.
func decodeCBOR(b []byte) (any, error) {
	v, rest, err := cborItem(b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the item", errCBOR, len(rest))
	}
	return v, nil
}

// cborHead reads an item's major type and argument.
func cborHead(b []byte) (major byte, arg uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, nil, errCBOR
	}
	major, info := b[0]>>5, b[0]&0x1f
	b = b[1:]
	switch {
	case info < 24:
		return major, uint64(info), b, nil
	case info == 24 && len(b) >= 1:
		return major, uint64(b[0]), b[1:], nil
	case info == 25 && len(b) >= 2:
		return major, uint64(binary.BigEndian.Uint16(b)), b[2:], nil
	case info == 26 && len(b) >= 4:
		return major, uint64(binary.BigEndian.Uint32(b)), b[4:], nil
	case info == 27 && len(b) >= 8:
		return major, binary.BigEndian.Uint64(b), b[8:], nil
	}
	return 0, 0, nil, fmt.Errorf("%w: unsupported or truncated head 0x%02x", errCBOR, major<<5|info)
}

func cborItem(b []byte, depth int) (any, []byte, error) {
	if depth > maxCBORDepth {
		return nil, nil, fmt.Errorf("%w: nested too deep", errCBOR)
	}
	major, arg, rest, err := cborHead(b)
	if err != nil {
		return nil, nil, err
	}
	switch major {
	case 0:
		return arg, rest, nil
	case 1:
		if arg > 1<<62 {
			return nil, nil, fmt.Errorf("%w: negative integer out of range", errCBOR)
		}
		return -1 - int64(arg), rest, nil
	case 2, 3:
		if arg > uint64(len(rest)) {
			return nil, nil, fmt.Errorf("%w: truncated string", errCBOR)
		}
		if major == 2 {
			return rest[:arg], rest[arg:], nil
		}
		return string(rest[:arg]), rest[arg:], nil
	case 4:
		if arg > uint64(len(rest)) { // each item takes at least one byte
			return nil, nil, fmt.Errorf("%w: truncated array", errCBOR)
		}
		out := make([]any, 0, arg)
		for range arg {
			var v any
			if v, rest, err = cborItem(rest, depth+1); err != nil {
				return nil, nil, err
			}
			out = append(out, v)
		}
		return out, rest, nil
	case 5:
		if arg > uint64(len(rest)) {
			return nil, nil, fmt.Errorf("%w: truncated map", errCBOR)
		}
		out := make(map[any]any, arg)
		for range arg {
			var k, v any
			if k, rest, err = cborItem(rest, depth+1); err != nil {
				return nil, nil, err
			}
			switch kk := k.(type) {
			case uint64:
				k = int64(kk)
			case int64, string:
			default:
				return nil, nil, fmt.Errorf("%w: map key of type %T", errCBOR, k)
			}
			if v, rest, err = cborItem(rest, depth+1); err != nil {
				return nil, nil, err
			}
			if _, dup := out[k]; dup {
				return nil, nil, fmt.Errorf("%w: duplicate map key %v", errCBOR, k)
			}
			out[k] = v
		}
		return out, rest, nil
	case 6:
		v, rest, err := cborItem(rest, depth+1)
		if err != nil {
			return nil, nil, err
		}
		return cborTag{arg, v}, rest, nil
	case 7:
		switch arg {
		case 20:
			return false, rest, nil
		case 21:
			return true, rest, nil
		case 22:
			return nil, rest, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: unsupported item (major type %d)", errCBOR, major)
}

// cborAppendHead appends an item head.
func cborAppendHead(b []byte, major byte, n uint64) []byte {
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

// coseSigStructure is the encoded Sig_structure a COSE_Sign1 signs:
// ["Signature1", protected, external_aad (empty), payload].
func coseSigStructure(protected, payload []byte) []byte {
	b := cborAppendHead(nil, 4, 4)
	b = cborAppendHead(b, 3, uint64(len("Signature1")))
	b = append(b, "Signature1"...)
	b = cborAppendHead(b, 2, uint64(len(protected)))
	b = append(b, protected...)
	b = cborAppendHead(b, 2, 0)
	b = cborAppendHead(b, 2, uint64(len(payload)))
	return append(b, payload...)
}
