package transform

// Unmasked returns what of a masked value still comes from the original:
// for json, the document with the values at the rule's paths cut out (a
// kept path's values stay); for regex, the value with every match blanked;
// for template, nothing (its output is made only of the template and
// fakes); for keep and everything else, the value. The leak scan reads
// this, so that the fakes a rule wrote are never mistaken for originals
// (a fake phone number may by chance equal another customer's real one).
func Unmasked(t Transformer, value string) string { return Unmasker(t)(value) }

// Unmasker returns Unmasked for one transformer, prepared once (the leak
// scan calls it for every row).
func Unmasker(t Transformer) func(string) string {
	j, ok := t.(*jsonT)
	if !ok {
		return func(v string) string { return unmasked(t, v) }
	}
	bound := make([]boundPath, len(j.paths))
	for i, p := range j.paths {
		bound[i].keep = IsKeep(p.t)
		bound[i].null = Nullifies(p.t)
		bound[i].text = func(*Masker, Input) (string, bool, error) { return "", false, nil }
	}
	return func(v string) string {
		w := jsonWalker{t: j, bound: bound, s: v, blank: true}
		out, err := w.run()
		if err != nil {
			return v // not a document the rule could parse (or no path in it): all of it
		}
		return out
	}
}

func unmasked(t Transformer, value string) string {
	switch t := t.(type) {
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
