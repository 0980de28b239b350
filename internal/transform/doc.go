// Package transform holds restage's masking transformers: pure, keyed,
// deterministic functions from an original value to a fake one.
//
// # Model
//
// Parse validates a rule (offline); Transformer.Bind checks it against a
// column and returns a Func; a Func masks one non-NULL value with a
// per-worker Masker. Every random choice comes from HMAC-SHA256(key,
// domain || 0 || attempt || 0 || seed) (Masker.Rand, Masker.Tag), so the
// output depends only on the key, the transformer and the seed bytes: the
// same original text gives the same output on MySQL and PostgreSQL, in
// every table, every day. The seed is Input.Seed when the rule has
// `seed: [cols]` (SeedFor: folded values, namespaced by the table whose
// row they identify), else the value folded by FoldKey (NFKC, case fold,
// trailing spaces dropped), so values a case-insensitive pad-space
// collation treats as equal get one fake. Person-based
// transformers (first_name, last_name, full_name, email, template) draw
// their person from the shared domain "person", so columns seeded alike
// describe the same person.
//
// Unique parts of an output (hash, the email tag, {hash:N}) are keyed by
// the exact original value, plus the seed when there is one: they stay
// unique by construction even when many rows share a seed, and under a
// case-sensitive unique index.
//
// One value, one fake: the output does not depend on the column. Each
// transformer documents its longest output (spec.maxLen) and Bind refuses
// a shorter column unless Target.Loose (the rule's consistent: false), in
// which case the output is fitted to the column as below.
//
// Every Func (keep and nullify aside) makes its output fit the column
// (characters cut to MaxLength; no 4-byte UTF-8 on MySQL utf8mb3/utf8; ASCII
// only on latin1/ascii and other single-byte sets; Shift_JIS/EUC-JP
// representable on sjis/cp932/ujis/eucjpms; integers clamped to IntBits/
// Unsigned; decimals to Precision/Scale), then checks that it differs from
// the original ignoring case, accents, width, kana kind and trailing
// spaces on every text column (bytes on binary ones; see sameFolded) and
// redraws with attempt+1 up to 50 times, else fails with
// "could not draw a value different from the original". Blank text (empty
// or spaces only) stays as it is, like NULL: it holds nothing personal.
//
// Exempt from that check: fixed (a constant), json at document level
// (each masked leaf differs; a document where none of the paths is present
// is returned unchanged), and values holding nothing the transformer
// masks, returned unchanged: regex without a match, digits without a
// replaceable digit, date_shift on "infinity"/"-infinity" and MySQL zero
// dates, noise on NaN/Infinity. Errors never hold values or the key.
//
// # Transformers
//
//	name            params                                  kinds          unique-capable
//	keep            reason                                  any            (not written)
//	nullify         -                                       any nullable   yes (NULLs)
//	fixed           value (string|number|bool, required)    any            no
//	hash            length (1-64, default 32)               text, binary   if length >= 16
//	email           domain (example.invalid), locale        text           yes (13-char tag)
//	first_name      locale, script (ja: kanji|kana|romaji)  text           no
//	last_name       locale, script                          text           no
//	full_name       locale, script                          text           no
//	phone           locale, format ('#' = digit)            text           no
//	street_address  locale                                  text           no
//	city            locale                                  text           no
//	region          locale (alias: prefecture)              text           no
//	postal_code     locale, mark (ja: "〒" prefix)          text           no
//	date_shift      days (>= 1, required)                   date, datetime, text  no
//	noise           percent (0 < p <= 100, required)        int, decimal, float   no
//	digits          keep_prefix (default 0)                 text, int      no
//	regex           pattern (required; group 1 if any)      text           no
//	template        template (required), locale             text           if it has {hash:N}, N >= 12
//	json            paths (path -> rule, required)          json, text     no
//	address         locale, width (ja: half|full)           text           no
//	ip              -                                       text, inet, cidr, inet6  no
//	text            locale                                  text           no
//	credit_card     keep_last (0-4)                         text, int, decimal  no
//	uuid            -                                       text, uuid, binary(16)   yes
//
// phone, postal_code and region take shape: keep (the original's pattern
// of letters, digits and separators). region, postal_code and address
// draw their region from the same stream ("region"), so seeded alike they
// name the same prefecture or state.
//
// Formats: Japanese full names are family name first with an ASCII space
// ("佐藤 太郎", "サトウ タロウ", "Sato Taro"); English ones "First Last".
// email is "first.last.TAG@domain" in lower-case ASCII (romaji for ja),
// name part at most 20 characters, TAG 13 base32 characters (65 bits) in
// every column; with consistent: false, 4 off a unique column, and a short
// column loses name characters, never the tag or domain. hash is lower-case hex;
// template {hash:N} is N base32 characters (a-z2-7), {digits:N} digits,
// {letters:N} lower-case letters; other placeholders: {first_name}
// {last_name} {full_name} {first_kana} {last_kana} {first_romaji}
// {last_romaji} {email_local}; "{{" and "}}" are literal braces.
// date_shift moves the date by a keyed offset in [-days, days] \ {0} and
// keeps the rest of the text (time, fraction, zone offset, " BC")
// verbatim. noise multiplies by 1+u, u uniform in [-p, p] %, keeps the
// number of fraction digits, and moves by one unit of the last digit when
// rounding would give the original back.
//
// json paths: "$", "$.a.b", "$['a b']", "$.items[*].email", "$.*", "$.a[0]".
// When several paths match a value, the one with fewer wildcards wins,
// then the longer one. A nested rule is a transformer name or a map with "transformer:" and its
// params. Strings are masked as text; numbers as int/decimal/float when
// the nested transformer handles that kind (noise, digits, fixed), else
// as text (the value becomes a JSON string); booleans and null are kept
// (nullify turns the matched value, even an object, into null). A matched
// object or array is masked leaf by leaf. Only the matched values' bytes
// change. Nested rules get the row's seed when the rule has one (so a
// document describes one person), else each leaf's own value.
package transform
