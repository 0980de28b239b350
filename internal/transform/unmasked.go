package transform

// Unmasked returns what of a masked value still comes from the original:
// for json, the document with the values at the rule's paths cut out (a
// kept path's values stay); for regex, the value with every match blanked;
// for template, nothing (its output is made only of the template and
// fakes); for keep and everything else, the value. The leak scan reads
// this, so that the fakes a rule wrote are never mistaken for originals
// (a fake phone number may by chance equal another customer's real one).
func Unmasked(t Transformer, value string) string {
	switch t := t.(type) {
	case *jsonT:
		bound := make([]boundPath, len(t.paths))
		for i, p := range t.paths {
			bound[i].keep = IsKeep(p.t)
			bound[i].null = Nullifies(p.t)
			bound[i].text = func(*Masker, Input) (string, bool, error) { return "", false, nil }
		}
		w := jsonWalker{t: t, bound: bound, s: value, blank: true}
		out, err := w.run()
		if err != nil {
			return value // not a document the rule could parse: all of it
		}
		return out
	case *regexT:
		group := 0
		if t.re.NumSubexp() > 0 {
			group = 1
		}
		var b []byte
		for _, loc := range t.re.FindAllStringSubmatchIndex(value, -1) {
			lo, hi := loc[2*group], loc[2*group+1]
			if lo < 0 {
				continue
			}
			if b == nil {
				b = []byte(value)
			}
			for i := lo; i < hi; i++ {
				b[i] = ' '
			}
		}
		if b == nil {
			return value
		}
		return string(b)
	case *templateT:
		return ""
	}
	return value
}
