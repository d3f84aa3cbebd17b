package frontend

import (
	"html"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pages are the HTML files the server serves.
var pages = []string{"index.html", "login.html", "dashboard.html", "join.html", "room.html", "account.html", "admin.html", "replay.html"}

// readFile reads an embedded file; a page is rendered with its header and footer, as
// the server serves it.
func readFile(t *testing.T, name string) string {
	t.Helper()
	if path.Dir(name) == "." && strings.HasSuffix(name, ".html") {
		tpl, err := template.ParseFS(Files, "partials/*.html", name)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		var b strings.Builder
		if err := tpl.ExecuteTemplate(&b, name, nil); err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
		return b.String()
	}
	b, err := fs.ReadFile(Files, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// scripts lists the embedded JavaScript files.
func scripts(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(Files, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".js") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no script embedded")
	}
	return names
}

var (
	scriptTag   = regexp.MustCompile(`<script\b[^>]*>`)
	moduleTag   = regexp.MustCompile(`^<script type="module" src="(/static/[a-z0-9/_-]+\.js)">$`)
	urlAttr     = regexp.MustCompile(`\s(?:src|href|action)="([^"]*)"`)
	handlerAttr = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	idAttr      = regexp.MustCompile(`\sid="([^"]+)"`)
	refAttr     = regexp.MustCompile(`\s(?:for|aria-describedby|aria-labelledby|aria-controls)="([^"]+)"`)
)

// TestPagesKeepToTheContentSecurityPolicy: the server's policy forbids inline scripts and
// styles and anything from another origin; a page that breaks it would silently not work.
func TestPagesKeepToTheContentSecurityPolicy(t *testing.T) {
	for _, name := range pages {
		t.Run(name, func(t *testing.T) {
			page := readFile(t, name)
			for _, bad := range []string{"style=", "<style", "javascript:", "<iframe", "<object", "<embed"} {
				if strings.Contains(strings.ToLower(page), bad) {
					t.Errorf("page holds %q", bad)
				}
			}
			if m := handlerAttr.FindString(page); m != "" {
				t.Errorf("page has an inline event handler %q", m)
			}
			tags := scriptTag.FindAllStringIndex(page, -1)
			if len(tags) == 0 {
				t.Error("page loads no script")
			}
			for _, loc := range tags {
				tag := page[loc[0]:loc[1]]
				m := moduleTag.FindStringSubmatch(tag)
				if m == nil || !strings.HasPrefix(page[loc[1]:], "</script>") {
					t.Errorf("got script %q, want an empty <script type=\"module\" src=\"/static/...\">", tag)
					continue
				}
				if _, err := fs.Stat(Files, strings.TrimPrefix(m[1], "/")); err != nil {
					t.Errorf("script %s is not embedded", m[1])
				}
			}
			for _, m := range urlAttr.FindAllStringSubmatch(page, -1) {
				u := m[1]
				if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
					if !strings.HasPrefix(u, "#") {
						t.Errorf("got address %q, want a path on this site", u)
					}
					continue
				}
				if strings.HasPrefix(u, "/static/") {
					if _, err := fs.Stat(Files, strings.TrimPrefix(u, "/")); err != nil {
						t.Errorf("%s is not embedded", u)
					}
				}
			}
		})
	}
}

// TestPagesAreAccessible checks what a screen-reader user relies on and can be read from the
// source: the language, a title, a main landmark with a skip link to it, unique ids, and
// labels and ARIA references that point at something.
func TestPagesAreAccessible(t *testing.T) {
	for _, name := range pages {
		t.Run(name, func(t *testing.T) {
			page := readFile(t, name)
			for _, want := range []string{`<html lang="fr">`, `<meta name="viewport"`, `<title`, `<main id="main"`, `href="#main"`, `<footer`, `href="/privacy"`} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			ids := map[string]bool{}
			for _, m := range idAttr.FindAllStringSubmatch(page, -1) {
				if ids[m[1]] {
					t.Errorf("id %q is used twice", m[1])
				}
				ids[m[1]] = true
			}
			for _, m := range refAttr.FindAllStringSubmatch(page, -1) {
				for _, id := range strings.Fields(m[1]) {
					if !ids[id] {
						t.Errorf("%s points at a missing id %q", strings.TrimSpace(m[0]), id)
					}
				}
			}
		})
	}
}

var (
	forbiddenInScripts = []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "document.cookie", "eval(", "new Function", "console."}
	importFrom         = regexp.MustCompile(`(?m)^import\s+(?:[^"]*\s+from\s+)?"([^"]+)";`)
)

// TestScriptsAreSafe: data from the API only ever goes in as text, no cookie is touched, the
// console stays quiet, every file is type-checked and imports only files of its own.
func TestScriptsAreSafe(t *testing.T) {
	for _, name := range scripts(t) {
		t.Run(name, func(t *testing.T) {
			src := readFile(t, name)
			if !strings.HasPrefix(src, "// @ts-check\n") {
				t.Error("file does not start with // @ts-check")
			}
			for _, bad := range forbiddenInScripts {
				if strings.Contains(src, bad) {
					t.Errorf("file uses %s", bad)
				}
			}
			for _, m := range importFrom.FindAllStringSubmatch(src, -1) {
				if !strings.HasPrefix(m[1], "./") {
					t.Errorf("got import %q, want a relative path", m[1])
					continue
				}
				if _, err := fs.Stat(Files, path.Join(path.Dir(name), m[1])); err != nil {
					t.Errorf("import %q is not embedded", m[1])
				}
			}
		})
	}
}

var (
	entry       = regexp.MustCompile(`^\s*"([a-z0-9_.]+)":\s*("(?:[^"\\]|\\.)*"),$`)
	placeholder = regexp.MustCompile(`\{(\w+)\}`)
)

// dictionary reads static/i18n/<lang>.js, whose entries are one per line.
func dictionary(t *testing.T, lang string) map[string]string {
	t.Helper()
	name := "static/i18n/" + lang + ".js"
	src := readFile(t, name)
	dict := map[string]string{}
	_, body, ok := strings.Cut(src, "export default {\n")
	if !ok {
		t.Fatalf("%s has no export default {", name)
	}
	body, _, ok = strings.Cut(body, "\n};\n")
	if !ok {
		t.Fatalf("%s does not end its object with };", name)
	}
	for i, line := range strings.Split(body, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := entry.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: line %d of the object is not one \"key\": \"text\", entry: %q", name, i+1, line)
		}
		text, err := strconv.Unquote(m[2])
		if err != nil {
			t.Fatalf("%s: %s: %v", name, m[1], err)
		}
		if _, dup := dict[m[1]]; dup {
			t.Errorf("%s: key %s appears twice", name, m[1])
		}
		dict[m[1]] = text
	}
	return dict
}

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestDictionariesMatch: both languages have the same keys with the same variables.
func TestDictionariesMatch(t *testing.T) {
	fr, en := dictionary(t, "fr"), dictionary(t, "en")
	for key, frText := range fr {
		enText, ok := en[key]
		if !ok {
			t.Errorf("en lacks %s", key)
			continue
		}
		if strings.TrimSpace(frText) == "" || strings.TrimSpace(enText) == "" {
			t.Errorf("%s is empty", key)
		}
		if got, want := placeholders(enText), placeholders(frText); !slices.Equal(got, want) {
			t.Errorf("%s: got variables %v in en, want %v as in fr", key, got, want)
		}
	}
	for key := range en {
		if _, ok := fr[key]; !ok {
			t.Errorf("fr lacks %s", key)
		}
	}
}

var (
	i18nTag  = regexp.MustCompile(`<([a-z0-9]+)\b[^>]*\sdata-i18n="([^"]+)"[^>]*>`)
	i18nAttr = regexp.MustCompile(`\sdata-i18n-attr="([^"]+)"`)
	spaces   = regexp.MustCompile(`\s+`)
)

// TestPagesHoldTheFrenchText: the pages read in French without JavaScript, so the text of
// each translated element must be that of fr.js; a translated element holds text only,
// since translating replaces what it holds.
func TestPagesHoldTheFrenchText(t *testing.T) {
	fr := dictionary(t, "fr")
	for _, name := range pages {
		t.Run(name, func(t *testing.T) {
			page := readFile(t, name)
			for _, loc := range i18nTag.FindAllStringSubmatchIndex(page, -1) {
				tagName, key := page[loc[2]:loc[3]], page[loc[4]:loc[5]]
				want, ok := fr[key]
				if !ok {
					t.Errorf("key %s is not in fr.js", key)
					continue
				}
				rest := page[loc[1]:]
				end := strings.Index(rest, "<")
				if end < 0 || !strings.HasPrefix(rest[end:], "</"+tagName+">") {
					t.Errorf("<%s data-i18n=%q> holds more than text", tagName, key)
					continue
				}
				got := strings.TrimSpace(spaces.ReplaceAllString(html.UnescapeString(rest[:end]), " "))
				if got != want {
					t.Errorf("%s: got %q in the page, want %q as in fr.js", key, got, want)
				}
			}
			for _, m := range i18nAttr.FindAllStringSubmatch(page, -1) {
				for _, pair := range strings.Split(m[1], ";") {
					_, key, _ := strings.Cut(pair, ":")
					if _, ok := fr[strings.TrimSpace(key)]; !ok {
						t.Errorf("attribute key %s is not in fr.js", key)
					}
				}
			}
		})
	}
}

// keyLiteral finds the string literals in scripts that look like message keys.
var keyLiteral = regexp.MustCompile(`"((?:common|lang|footer|nav|index|login|dash|list|create|field|form|kind|role|webinar|inv|copy|error|join|owner|room|account|admin)\.[a-z0-9_.]+)"`)

// TestScriptKeysExist: every message key written out in a script is in fr.js (as is, or as
// the base of plural forms).
func TestScriptKeysExist(t *testing.T) {
	fr := dictionary(t, "fr")
	for _, name := range scripts(t) {
		if strings.HasPrefix(name, "static/i18n/") {
			continue
		}
		src := readFile(t, name)
		for _, m := range keyLiteral.FindAllStringSubmatch(src, -1) {
			key := m[1]
			_, ok := fr[key]
			_, plural := fr[key+".other"]
			if !ok && !plural {
				t.Errorf("%s uses key %s, which is not in fr.js", name, key)
			}
		}
	}
}

// TestPagesShareTheirHeaderAndFooter: every page is rendered with the one header and
// footer (partials/site.html); an organizer's page shows the organizer's navigation with
// itself as the current page, a public page shows none.
func TestPagesShareTheirHeaderAndFooter(t *testing.T) {
	current := map[string]string{"dashboard.html": "/dashboard", "account.html": "/account", "admin.html": "/admin", "room.html": ""}
	for _, name := range pages {
		t.Run(name, func(t *testing.T) {
			page := readFile(t, name)
			for _, want := range []string{`<header class="site-header">`, `<footer class="site-footer">`, `class="skip-link"`, `href="/privacy"`} {
				if strings.Count(page, want) != 1 {
					t.Errorf("got %d of %q, want 1", strings.Count(page, want), want)
				}
			}
			href, organizer := current[name]
			if got := strings.Contains(page, `class="header-nav"`); got != organizer {
				t.Errorf("organizer's navigation: got %v, want %v", got, organizer)
			}
			n := strings.Count(page, `aria-current="page"`)
			switch {
			case href == "" && n != 0:
				t.Errorf("got %d links marked current, want none", n)
			case href != "" && (n != 1 || !strings.Contains(page, `<a href="`+href+`"`) || !regexp.MustCompile(`href="`+href+`"[^>]*aria-current="page"`).MatchString(page)):
				t.Errorf("the link to %s is not the one marked current", href)
			}
		})
	}
}
