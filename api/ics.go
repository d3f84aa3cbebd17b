package api

import (
	"strings"
	"time"
	"unicode/utf8"

	"webinaire/store"
)

// icsEvent renders a webinar as an RFC 5545 calendar with one event. link, when not empty,
// is the join URL; host names the UID's domain; now stamps the event.
func icsEvent(w store.Webinar, link, host string, now time.Time) string {
	const stamp = "20060102T150405Z"
	var b strings.Builder
	line := func(s string) { b.WriteString(foldICS(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Webinaire//Webinaire//FR")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("BEGIN:VEVENT")
	line("UID:" + w.ID + "@" + host)
	line("DTSTAMP:" + now.UTC().Format(stamp))
	line("DTSTART:" + w.StartsAt.UTC().Format(stamp))
	line("DTEND:" + w.StartsAt.Add(time.Duration(w.DurationMinutes)*time.Minute).UTC().Format(stamp))
	line("SUMMARY:" + escapeICS(w.Title))
	desc := w.Description
	if link != "" {
		if desc != "" {
			desc += "\n\n"
		}
		desc += link
		line("URL:" + link)
		line("LOCATION:" + escapeICS(link))
	}
	if desc != "" {
		line("DESCRIPTION:" + escapeICS(desc))
	}
	line("END:VEVENT")
	line("END:VCALENDAR")
	return b.String()
}

// escapeICS escapes a TEXT value (RFC 5545 §3.3.11).
func escapeICS(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// foldICS ends a content line with CRLF, folding it so that no line exceeds 75 octets and
// no UTF-8 character is split (RFC 5545 §3.1).
func foldICS(s string) string {
	var b strings.Builder
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space of a continuation counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}
