package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// knownKeys are the manifest and descriptor fields berth reads. Go's JSON
// decoder matches keys case-insensitively and lets the last duplicate win,
// while other parsers may take the first or match exactly; a manifest that
// means different things to different readers is refused outright.
var knownKeys = []string{
	"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests",
	"subject", "annotations", "digest", "size", "urls", "platform", "data", "fsLayers",
}

const maxJSONDepth = 64

// checkUnambiguous walks body and rejects duplicate keys in any object and
// keys that differ only in case from a field berth reads.
func checkUnambiguous(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return walkValue(dec, 0, true)
}

// walkValue checks one value; caseCheck is off inside annotations, whose
// keys are free-form.
func walkValue(dec *json.Decoder, depth int, caseCheck bool) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("manifest JSON is nested more than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("manifest is empty")
		}
		return fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("manifest is not valid JSON: %v", err)
			}
			k, _ := kt.(string)
			if seen[k] {
				return fmt.Errorf("manifest has the key %q twice in one object", trunc(k))
			}
			seen[k] = true
			for _, known := range knownKeys {
				if caseCheck && k != known && strings.EqualFold(k, known) {
					return fmt.Errorf("manifest key %q must be spelled %q", trunc(k), known)
				}
			}
			if err := walkValue(dec, depth+1, caseCheck && k != "annotations"); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec, depth+1, caseCheck); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
	}
	if err != nil {
		return fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	return nil
}
