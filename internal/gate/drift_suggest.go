package gate

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// patchRule is a suggested column rule, rendered as a YAML flow value.
type patchRule struct {
	name   string
	params []patchParam
	paths  []patchPathRule // json only
}

type patchParam struct {
	key string
	val any // string, int, bool or []string
}

type patchPathRule struct {
	path string
	rule patchRule
}

// render writes the rule the way a rules file would: the bare name, or
// {transformer: NAME, param: value, ...}.
func (r patchRule) render() string {
	if len(r.params) == 0 && len(r.paths) == 0 {
		return r.name
	}
	var b strings.Builder
	b.WriteString("{transformer: ")
	b.WriteString(r.name)
	for _, p := range r.params {
		b.WriteString(", ")
		b.WriteString(p.key)
		b.WriteString(": ")
		switch v := p.val.(type) {
		case string:
			b.WriteString(patchScalar(v))
		case int:
			b.WriteString(strconv.Itoa(v))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case []string:
			b.WriteString("[")
			for i, x := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(patchScalar(x))
			}
			b.WriteString("]")
		}
	}
	if len(r.paths) > 0 {
		b.WriteString(", paths: {")
		for i, p := range r.paths {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(p.path))
			b.WriteString(": ")
			b.WriteString(p.rule.render())
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	return b.String()
}

// patchScalar renders text as a plain YAML scalar when that reads back as
// the same text, else double-quoted.
func patchScalar(s string) string {
	if driftJSONIdent.MatchString(s) {
		switch strings.ToLower(s) {
		case "true", "false", "null", "yes", "no", "on", "off", "y", "n":
		default:
			return s
		}
	}
	return strconv.Quote(s)
}

// driftFits reports whether the rendered rule parses (as the rules file
// parser would read it) and binds to the column.
func driftFits(r patchRule, tg transform.Target, locale string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(r.render()), &v); err != nil {
		return false
	}
	var name string
	var params map[string]any
	switch x := v.(type) {
	case string:
		name = x
	case map[string]any:
		n, ok := x["transformer"].(string)
		if !ok {
			return false
		}
		name = n
		params = map[string]any{}
		for k, p := range x {
			// seed is the rules file's, not the transformer's: the
			// suggestion takes it from the table's primary key, which
			// exists.
			if k != "transformer" && k != "seed" {
				params[k] = p
			}
		}
	default:
		return false
	}
	tr, err := transform.Parse(name, params, transform.Options{Locale: locale})
	if err != nil {
		return false
	}
	_, err = tr.Bind(tg)
	return err == nil
}

// driftFirstFit renders the first candidate that fits the column; "" when
// none does.
func driftFirstFit(cands []patchRule, tg transform.Target, locale string) string {
	for _, c := range cands {
		if driftFits(c, tg, locale) {
			return c.render()
		}
	}
	return ""
}

// driftSuggest picks the rule for a column: the transformers that fit the
// category first, then the generic fallbacks; each is checked against the
// column (kind, length, NOT NULL, unique index), so the patch always
// yields rules the planner accepts.
func driftSuggest(cat piiCategory, nm piiNameMatch, jp bool, tg transform.Target, locale string) string {
	return driftSuggestSeeded(cat, nm, jp, tg, locale, nil)
}

// driftPersonTransformers are the rules that draw from one fake person: a
// shared seed makes the name and the e-mail of a row the same person.
var driftPersonTransformers = map[string]bool{"first_name": true, "last_name": true, "full_name": true, "email": true}

// driftSuggestSeeded is driftSuggest with the person rules seeded by the
// given columns (the table's primary key); nil for none.
func driftSuggestSeeded(cat piiCategory, nm piiNameMatch, jp bool, tg transform.Target, locale string, seed []string) string {
	cands := driftCandidates(cat, nm, jp, tg, locale)
	if len(seed) > 0 {
		for i, c := range cands {
			if driftPersonTransformers[c.name] {
				c.params = append(append([]patchParam(nil), c.params...), patchParam{"seed", seed})
				cands[i] = c
			}
		}
	}
	cands = append(cands, driftFallbacks(tg)...)
	return driftFirstFit(cands, tg, locale)
}

// driftTextPattern is the regex suggested for free text when no text
// transformer fits: it scrambles the letters and digits of every e-mail
// address and of every run of digits that could be a phone, postal or card
// number, leaving the words around them.
const driftTextPattern = `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:[.][A-Za-z0-9-]+)+|[+]?[0-9][0-9 ()-]{5,}[0-9]`

// driftSuggestText picks the rule for a free-text column holding personal
// data inside its text: text (plausible sentences of about the same
// length), else regex over what the gate recognises, else the fallbacks.
func driftSuggestText(jp bool, tg transform.Target, locale string) string {
	var cands []patchRule
	if jp && locale != "ja" {
		cands = append(cands, patchRule{name: "text", params: []patchParam{{"locale", "ja"}}})
	}
	cands = append(cands, patchRule{name: "text"}, patchRule{name: "regex", params: []patchParam{{"pattern", driftTextPattern}}})
	cands = append(cands, driftFallbacks(tg)...)
	return driftFirstFit(cands, tg, locale)
}

// driftSuggestQuasi picks the rule for a quasi-identifier.
func driftSuggestQuasi(q piiQuasiMatch, tg transform.Target, locale string) string {
	var cands []patchRule
	switch q.kind {
	case piiQuasiCompany:
		tmpl := "{last_name} Ltd"
		if locale == "ja" {
			tmpl = "株式会社{last_name}"
		}
		cands = []patchRule{{name: "template", params: []patchParam{{"template", tmpl}}}}
	case piiQuasiCity:
		cands = []patchRule{{name: "city"}}
	case piiQuasiRegion:
		switch q.token {
		case "prefecture", "todofuken", "todoufuken", "pref":
			cands = []patchRule{{name: "prefecture"}, {name: "region"}}
		default:
			cands = []patchRule{{name: "region"}}
		}
	case piiQuasiEmployment:
		cands = []patchRule{{name: "date_shift", params: []patchParam{{"days", 90}}}}
	}
	cands = append(cands, driftFallbacks(tg)...)
	return driftFirstFit(cands, tg, locale)
}

// driftHash is hash with a length that fits the column: the column's
// length when it is at most 64 (a password column keeps its shape), the
// default (32) otherwise.
func driftHash(c *schema.Column) patchRule {
	if c.MaxLength > 0 && c.MaxLength <= 64 {
		return patchRule{name: "hash", params: []patchParam{{"length", c.MaxLength}}}
	}
	return patchRule{name: "hash"}
}

func driftCandidates(cat piiCategory, nm piiNameMatch, jp bool, tg transform.Target, locale string) []patchRule {
	c := tg.Column
	numeric := c.Kind == schema.KindInt || c.Kind == schema.KindDecimal
	ja := func(r patchRule) patchRule {
		if jp && locale != "ja" {
			r.params = append(r.params, patchParam{"locale", "ja"})
		}
		return r
	}
	switch cat {
	case piiEmail:
		return []patchRule{{name: "email"}}
	case piiPhone:
		if numeric {
			return []patchRule{{name: "digits"}}
		}
		return []patchRule{ja(patchRule{name: "phone"}), {name: "digits"}}
	case piiCard:
		return []patchRule{{name: "digits"}, driftHash(c)}
	case piiZip:
		if numeric {
			return []patchRule{{name: "digits"}}
		}
		return []patchRule{ja(patchRule{name: "postal_code"}), {name: "digits"}}
	case piiName:
		name := nm.part + "_name"
		if nm.part == "" {
			name = "full_name"
		}
		switch nm.script {
		case "kana", "romaji":
			return []patchRule{{name: name, params: []patchParam{{"script", nm.script}, {"locale", "ja"}}}}
		}
		return []patchRule{{name: name}}
	case piiAddress:
		return []patchRule{{name: "street_address"}}
	case piiBirth:
		// A month's shift keeps the age and nearly the birthday: a year
		// hides both.
		if c.Kind == schema.KindDate || c.Kind == schema.KindDateTime {
			return []patchRule{{name: "date_shift", params: []patchParam{{"days", driftBirthShiftDays}}}}
		}
	case piiIP:
		return []patchRule{driftHash(c), {name: "fixed", params: []patchParam{{"value", "192.0.2.1"}}}}
	case piiSecret:
		if c.Nullable && nm.token != "password" && nm.token != "passwd" && nm.token != "pwd" {
			return []patchRule{{name: "nullify"}, driftHash(c)}
		}
		return []patchRule{driftHash(c)}
	case piiGovID:
		return []patchRule{driftHash(c)}
	}
	return nil
}

// driftBirthShiftDays is the shift suggested for a date of birth.
const driftBirthShiftDays = 365

// driftFallbacks are tried when nothing specific fits: a hash, NULL, a
// constant.
func driftFallbacks(tg transform.Target) []patchRule {
	c := tg.Column
	out := []patchRule{driftHash(c), {name: "nullify"}}
	switch c.Kind {
	case schema.KindInt, schema.KindDecimal, schema.KindFloat:
		out = append(out, patchRule{name: "fixed", params: []patchParam{{"value", 0}}})
	case schema.KindDate, schema.KindDateTime:
		out = append([]patchRule{{name: "date_shift", params: []patchParam{{"days", 30}}}}, out...)
	case schema.KindJSON:
		out = append(out, patchRule{name: "fixed", params: []patchParam{{"value", "{}"}}})
	case schema.KindText:
		out = append(out, patchRule{name: "fixed", params: []patchParam{{"value", ""}}})
	}
	return out
}
