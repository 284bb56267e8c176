//go:build !amd64 || purego

package cpu

var asmImpls []*gemmImpl

// Without assembly there is nothing to select by CPU feature.
const hasAVX512, hasAVX2 = false, false
