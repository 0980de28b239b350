package mask

import (
	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
)

// tableHint is ": did you mean `Customer`?" when a table the rules name is
// missing but the database has it in another case or naming convention;
// "" otherwise.
func tableHint(s *schema.Schema, name string) string {
	var names []string
	for _, t := range s.Tables {
		if t.Schema == "" || t.Schema == s.DefaultSchema {
			names = append(names, t.Name)
		} else {
			names = append(names, t.TableName.String())
		}
	}
	return nameHint(name, names)
}

// columnHint is tableHint for a column of t.
func columnHint(t *schema.Table, name string) string {
	names := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	return nameHint(name, names)
}

func nameHint(name string, valid []string) string {
	if sug, ok := config.SuggestName(name, valid); ok {
		return ": " + sug.Hint()
	}
	return ""
}
