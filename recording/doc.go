// Package recording records webinars: a Recorder is an SFU sink that writes each track it
// receives to its own WebM file as the packets arrive, so that a crash or a kill leaves
// files that play up to their last seconds.
package recording
