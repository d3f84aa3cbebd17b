// Package recording records webinars and broadcasts them live: a Recorder is an SFU sink
// that writes each track it receives to its own WebM file as the packets arrive, so that
// a crash or a kill leaves files that play up to their last seconds; a Manager runs a
// node's recordings from their start to their finalization, and repairs what a crash
// left; a Broadcast is an SFU sink that composes the room into one picture and one sound
// and has ffmpeg send it to an RTMP server.
package recording
