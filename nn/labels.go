package nn

// LabelledRows returns the positions whose label is not pad and, in the
// same scratch (after the positions), their labels: what an
// encoder-decoder's loss projects onto the vocabulary (the rest is
// padding). scratch, if not nil, is reused when it has the room.
func LabelledRows(labels []int32, pad int32, scratch *[]int32) (idx, kept []int32) {
	var buf []int32
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	for i, l := range labels {
		if l != pad {
			buf = append(buf, int32(i))
		}
	}
	n := len(buf)
	for _, l := range labels {
		if l != pad {
			buf = append(buf, l)
		}
	}
	if scratch != nil {
		*scratch = buf
	}
	return buf[:n:n], buf[n:]
}
