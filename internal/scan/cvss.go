package scan

import (
	"math"
	"strings"
)

// OSV gives severity as CVSS vectors, so the engine computes base scores
// itself (CVSS v3.0/v3.1 and v2 base metrics, as their specifications
// define them) and maps them to Harbor's labels. CVSS v4 vectors are not
// scored: the record's own severity label is used instead when it has
// one.

// cvss3Score returns the base score of a CVSS v3.x vector such as
// "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; ok is false when the
// vector is not a complete v3 base vector.
func cvss3Score(vector string) (score float64, ok bool) {
	parts := strings.Split(vector, "/")
	if len(parts) < 2 || (parts[0] != "CVSS:3.0" && parts[0] != "CVSS:3.1") {
		return 0, false
	}
	m := map[string]string{}
	for _, p := range parts[1:] {
		k, v, found := strings.Cut(p, ":")
		if !found {
			return 0, false
		}
		m[k] = v
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"UI": {"N": 0.85, "R": 0.62},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	w := map[string]float64{}
	for k, table := range weights {
		x, found := table[m[k]]
		if !found {
			return 0, false
		}
		w[k] = x
	}
	changed := false
	switch m["S"] {
	case "U":
	case "C":
		changed = true
	default:
		return 0, false
	}
	var pr float64
	switch m["PR"] {
	case "N":
		pr = 0.85
	case "L":
		pr = 0.62
		if changed {
			pr = 0.68
		}
	case "H":
		pr = 0.27
		if changed {
			pr = 0.5
		}
	default:
		return 0, false
	}
	iss := 1 - (1-w["C"])*(1-w["I"])*(1-w["A"])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	if impact <= 0 {
		return 0, true
	}
	exploit := 8.22 * w["AV"] * w["AC"] * pr * w["UI"]
	if changed {
		return roundUp(math.Min(1.08*(impact+exploit), 10)), true
	}
	return roundUp(math.Min(impact+exploit, 10)), true
}

// roundUp is CVSS v3.1's Roundup: the smallest number with one decimal
// that is equal to or higher than x, immune to floating-point noise.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

// cvss2Score returns the base score of a CVSS v2 vector such as
// "AV:N/AC:L/Au:N/C:P/I:P/A:P" (optionally in parentheses or prefixed
// "CVSS:2.0/").
func cvss2Score(vector string) (score float64, ok bool) {
	v := strings.Trim(strings.TrimPrefix(vector, "CVSS:2.0/"), "()")
	m := map[string]string{}
	for _, p := range strings.Split(v, "/") {
		k, val, found := strings.Cut(p, ":")
		if !found {
			return 0, false
		}
		m[k] = val
	}
	weights := map[string]map[string]float64{
		"AV": {"L": 0.395, "A": 0.646, "N": 1.0},
		"AC": {"H": 0.35, "M": 0.61, "L": 0.71},
		"Au": {"M": 0.45, "S": 0.56, "N": 0.704},
		"C":  {"N": 0, "P": 0.275, "C": 0.660},
		"I":  {"N": 0, "P": 0.275, "C": 0.660},
		"A":  {"N": 0, "P": 0.275, "C": 0.660},
	}
	w := map[string]float64{}
	for k, table := range weights {
		x, found := table[m[k]]
		if !found {
			return 0, false
		}
		w[k] = x
	}
	impact := 10.41 * (1 - (1-w["C"])*(1-w["I"])*(1-w["A"]))
	exploit := 20 * w["AV"] * w["AC"] * w["Au"]
	f := 1.176
	if impact == 0 {
		f = 0
	}
	return math.Round((0.6*impact+0.4*exploit-1.5)*f*10) / 10, true
}

// severityV3 maps a CVSS v3 base score to Harbor's label.
func severityV3(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityNone
}

// severityV2 maps a CVSS v2 base score to Harbor's label (v2 has no
// Critical).
func severityV2(score float64) Severity {
	switch {
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityNone
}
