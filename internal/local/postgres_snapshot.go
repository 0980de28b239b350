package local

// The snapshot reader's engine-specific renderings, as the engine does
// them (mask.Reader; the rest of pgSnapshot is in postgres_stream.go).

// BinaryValue decodes a binary column's text form as the engine does.
func (s *pgSnapshot) BinaryValue(text string) string { return s.src.BinaryValue(text) }

// TableSample samples pages as the engine does.
func (s *pgSnapshot) TableSample(percent float64) string { return s.src.TableSample(percent) }
