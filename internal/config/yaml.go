package config

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML flattens a configuration file into values by dotted key.
//
// It walks the document tree rather than decoding into a struct with
// KnownFields: the walk is just as strict, and its errors can name the
// full key ("server.adr"), where a struct decoder names only the field
// and a Go type.
func parseYAML(data []byte, sets []setting) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	values := map[string]string{}
	if len(doc.Content) == 0 {
		return values, nil // empty file
	}
	known := map[string]setting{}
	sections := map[string]bool{}
	for _, s := range sets {
		known[s.key] = s
		if sec, _, ok := strings.Cut(s.key, "."); ok {
			sections[sec] = true
		}
	}

	var walk func(prefix string, m *yaml.Node) error
	walk = func(prefix string, m *yaml.Node) error {
		seen := map[string]bool{}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], resolveAlias(m.Content[i+1])
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			if seen[key] {
				return fmt.Errorf("line %d: key %q appears twice", k.Line, key)
			}
			seen[key] = true
			switch {
			case prefix == "" && sections[key]:
				if isNull(v) {
					continue
				}
				if v.Kind != yaml.MappingNode {
					return fmt.Errorf("line %d: %s: must be a mapping of keys", v.Line, key)
				}
				if err := walk(key, v); err != nil {
					return err
				}
			case known[key].key != "":
				if isNull(v) {
					continue
				}
				s, err := scalarText(v, known[key].list)
				if err != nil {
					return fmt.Errorf("line %d: %s: %w", v.Line, key, err)
				}
				values[key] = s
			default:
				return fmt.Errorf("line %d: unknown key %q", k.Line, key)
			}
		}
		return nil
	}

	top := resolveAlias(doc.Content[0])
	if isNull(top) {
		return values, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping of keys", top.Line)
	}
	if err := walk("", top); err != nil {
		return nil, err
	}
	return values, nil
}

// scalarText returns a scalar's text or, for a list, a sequence of
// scalars joined with commas (the form lists take in the environment).
func scalarText(n *yaml.Node, list bool) (string, error) {
	switch {
	case n.Kind == yaml.ScalarNode:
		return n.Value, nil
	case n.Kind == yaml.SequenceNode && list:
		items := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			item = resolveAlias(item)
			if item.Kind != yaml.ScalarNode {
				return "", errors.New("list items must be plain values")
			}
			items = append(items, item.Value)
		}
		return strings.Join(items, ","), nil
	default:
		return "", errors.New("must be a single plain value")
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
