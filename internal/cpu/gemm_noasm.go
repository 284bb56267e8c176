//go:build !amd64 || purego

package cpu

var asmImpls []*gemmImpl
