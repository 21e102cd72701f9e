// Package pause builds the sandbox ("pause") program every pod's sandbox
// runs: it holds the pod's namespaces, reaps zombies re-parented to it, and
// exits 0 on SIGTERM or SIGINT — as upstream's pause does.
//
// The program is a few dozen instructions, so it is assembled here, byte by
// byte, into a static ELF executable: the pause image is built from this
// source on any machine, with no compiler, toolchain or download.
package pause

import (
	"encoding/binary"
	"fmt"
)

// Linux syscall numbers and constants the program uses.
const (
	sigINT     = 2
	sigTERM    = 15
	sigCHLD    = 17
	saRestorer = 0x04000000
	wNoHang    = 1
	loadAddr   = 0x400000
	// headerSize is the ELF header (64 bytes) and one program header (56).
	headerSize = 64 + 56
)

// Binary returns the static pause executable for the GOARCH-style
// architecture name ("amd64" or "arm64").
func Binary(arch string) ([]byte, error) {
	switch arch {
	case "amd64":
		return elf(0x3e, amd64Code()), nil
	case "arm64":
		return elf(0xb7, arm64Code()), nil
	default:
		return nil, fmt.Errorf("pause: no program for architecture %q", arch)
	}
}

// elf wraps code in a minimal ELF64 executable: one read+execute PT_LOAD
// segment mapping the whole file at loadAddr, entry right after the headers.
func elf(machine uint16, code []byte) []byte {
	size := uint64(headerSize + len(code))
	out := make([]byte, headerSize, size)
	le := binary.LittleEndian
	copy(out, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little endian */, 1 /* version */, 0 /* SysV ABI */})
	le.PutUint16(out[16:], 2) // ET_EXEC
	le.PutUint16(out[18:], machine)
	le.PutUint32(out[20:], 1)                   // EV_CURRENT
	le.PutUint64(out[24:], loadAddr+headerSize) // entry
	le.PutUint64(out[32:], 64)                  // program headers right after this header
	le.PutUint64(out[40:], 0)                   // no section headers
	le.PutUint32(out[48:], 0)                   // flags
	le.PutUint16(out[52:], 64)                  // ELF header size
	le.PutUint16(out[54:], 56)                  // program header size
	le.PutUint16(out[56:], 1)                   // one program header
	le.PutUint16(out[58:], 64)                  // section header size
	le.PutUint16(out[60:], 0)                   // no sections
	le.PutUint16(out[62:], 0)                   // no section names
	ph := out[64:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[8:], 0) // file offset
	le.PutUint64(ph[16:], loadAddr)
	le.PutUint64(ph[24:], loadAddr)
	le.PutUint64(ph[32:], size) // file size
	le.PutUint64(ph[40:], size) // memory size
	le.PutUint64(ph[48:], 0x1000)
	return append(out, code...)
}

// asm lays out instructions and resolves label addresses in two passes:
// every instruction has a fixed length, so the first pass only measures.
type asm struct {
	base   uint64
	labels map[string]uint64
	code   []byte
	pass   int
}

func assemble(base uint64, program func(a *asm)) []byte {
	a := &asm{base: base, labels: map[string]uint64{}}
	program(a) // pass 0: learn label addresses
	a.code, a.pass = nil, 1
	program(a)
	return a.code
}

func (a *asm) pc() uint64           { return a.base + uint64(len(a.code)) }
func (a *asm) label(name string)    { a.labels[name] = a.pc() }
func (a *asm) emit(b ...byte)       { a.code = append(a.code, b...) }
func (a *asm) addr(l string) uint64 { return a.labels[l] } // zero in pass 0

func (a *asm) emit32(v uint32) {
	a.code = binary.LittleEndian.AppendUint32(a.code, v)
}

// amd64Code is, in the syntax of an assembler:
//
//	_start: sub rsp, 32                      ; struct sigaction on the stack
//	        mov qword [rsp], exit            ; sa_handler
//	        mov qword [rsp+8], SA_RESTORER   ; sa_flags
//	        mov qword [rsp+16], restorer     ; sa_restorer
//	        mov qword [rsp+24], 0            ; sa_mask
//	        mov edi, SIGTERM / call sigaction
//	        mov edi, SIGINT  / call sigaction
//	        mov qword [rsp], reap
//	        mov edi, SIGCHLD / call sigaction
//	loop:   mov eax, SYS_pause / syscall / jmp loop
//	sigaction: lea rsi, [rsp+8] / xor edx, edx / mov r10d, 8 / mov eax, SYS_rt_sigaction / syscall / ret
//	exit:   xor edi, edi / mov eax, SYS_exit_group / syscall
//	reap:   mov rdi, -1 / xor esi, esi / mov edx, WNOHANG / xor r10d, r10d
//	        mov eax, SYS_wait4 / syscall / test rax, rax / jg reap / ret
//	restorer: mov eax, SYS_rt_sigreturn / syscall
func amd64Code() []byte {
	const (
		sysRtSigaction = 13
		sysRtSigreturn = 15
		sysPause       = 34
		sysWait4       = 61
		sysExitGroup   = 231
	)
	return assemble(loadAddr+headerSize, func(a *asm) {
		movEDI := func(v uint32) { a.emit(0xbf); a.emit32(v) }
		movEAX := func(v uint32) { a.emit(0xb8); a.emit32(v) }
		syscall := func() { a.emit(0x0f, 0x05) }
		call := func(l string) { a.emit(0xe8); a.emit32(uint32(a.addr(l) - (a.pc() + 4))) }
		a.emit(0x48, 0x83, 0xec, 0x20) // sub rsp, 32
		a.emit(0x48, 0xc7, 0x04, 0x24)
		a.emit32(uint32(a.addr("exit"))) // mov qword [rsp], exit
		a.emit(0x48, 0xc7, 0x44, 0x24, 0x08)
		a.emit32(saRestorer) // mov qword [rsp+8], SA_RESTORER
		a.emit(0x48, 0xc7, 0x44, 0x24, 0x10)
		a.emit32(uint32(a.addr("restorer")))
		a.emit(0x48, 0xc7, 0x44, 0x24, 0x18)
		a.emit32(0) // mov qword [rsp+24], 0
		movEDI(sigTERM)
		call("sigaction")
		movEDI(sigINT)
		call("sigaction")
		a.emit(0x48, 0xc7, 0x04, 0x24)
		a.emit32(uint32(a.addr("reap"))) // mov qword [rsp], reap
		movEDI(sigCHLD)
		call("sigaction")
		a.label("loop")
		movEAX(sysPause)
		syscall()
		a.emit(0xeb, byte(int8(int64(a.addr("loop"))-int64(a.pc()+2)))) // jmp loop
		a.label("sigaction")
		a.emit(0x48, 0x8d, 0x74, 0x24, 0x08) // lea rsi, [rsp+8]
		a.emit(0x31, 0xd2)                   // xor edx, edx
		a.emit(0x41, 0xba)
		a.emit32(8) // mov r10d, 8 (sizeof sigset)
		movEAX(sysRtSigaction)
		syscall()
		a.emit(0xc3) // ret
		a.label("exit")
		a.emit(0x31, 0xff) // xor edi, edi
		movEAX(sysExitGroup)
		syscall()
		a.label("reap")
		a.emit(0x48, 0xc7, 0xc7)
		a.emit32(0xffffffff) // mov rdi, -1
		a.emit(0x31, 0xf6)   // xor esi, esi
		a.emit(0xba)
		a.emit32(wNoHang)        // mov edx, WNOHANG
		a.emit(0x45, 0x31, 0xd2) // xor r10d, r10d
		movEAX(sysWait4)
		syscall()
		a.emit(0x48, 0x85, 0xc0)                                        // test rax, rax
		a.emit(0x7f, byte(int8(int64(a.addr("reap"))-int64(a.pc()+2)))) // jg reap
		a.emit(0xc3)                                                    // ret
		a.label("restorer")
		movEAX(sysRtSigreturn)
		syscall()
	})
}

// arm64Code is the same program for arm64 (restorer: the kernel's vDSO
// trampoline, so sa_flags is 0):
//
//	_start: sub sp, sp, #32
//	        adr x9, exit / str x9, [sp] / stp xzr, xzr, [sp, #8] / str xzr, [sp, #24]
//	        mov x0, #SIGTERM / bl sigaction
//	        mov x0, #SIGINT  / bl sigaction
//	        adr x9, reap / str x9, [sp]
//	        mov x0, #SIGCHLD / bl sigaction
//	loop:   mov x0, xzr / mov x1, xzr / mov x2, xzr / mov x3, xzr / mov x8, #SYS_ppoll / svc #0 / b loop
//	sigaction: mov x1, sp / mov x2, xzr / mov x3, #8 / mov x8, #SYS_rt_sigaction / svc #0 / ret
//	exit:   mov x0, xzr / mov x8, #SYS_exit_group / svc #0
//	reap:   movn x0, #0 / mov x1, xzr / mov x2, #WNOHANG / mov x3, xzr / mov x8, #SYS_wait4 / svc #0
//	        cmp x0, #0 / b.gt reap / ret
//
// arm64 has no pause syscall; ppoll with no descriptors and no timeout
// sleeps until a signal, which is what pause does.
func arm64Code() []byte {
	const (
		sysPpoll       = 73
		sysRtSigaction = 134
		sysExitGroup   = 94
		sysWait4       = 260
		lr             = 30
	)
	return assemble(loadAddr+headerSize, func(a *asm) {
		ins := func(v uint32) { a.emit32(v) }
		movz := func(rd, imm uint32) { ins(0xd2800000 | imm<<5 | rd) } // mov xd, #imm16
		movXZR := func(rd uint32) { ins(0xaa1f03e0 | rd) }             // mov xd, xzr (orr xd, xzr, xzr)
		svc := func() { ins(0xd4000001) }
		adr := func(rd uint32, l string) {
			off := uint32(int64(a.addr(l)) - int64(a.pc()))
			ins(0x10000000 | (off&3)<<29 | ((off>>2)&0x7ffff)<<5 | rd)
		}
		bl := func(l string) { ins(0x94000000 | (uint32(int64(a.addr(l))-int64(a.pc()))>>2)&0x3ffffff) }
		b := func(l string) { ins(0x14000000 | (uint32(int64(a.addr(l))-int64(a.pc()))>>2)&0x3ffffff) }
		strSP := func(rt, off uint32) { ins(0xf9000000 | (off/8)<<10 | 31<<5 | rt) } // str xt, [sp, #off]
		ins(0xd10083ff)                                                              // sub sp, sp, #32
		adr(9, "exit")
		strSP(9, 0)
		strSP(31, 8) // str xzr, [sp, #8]: sa_flags
		strSP(31, 16)
		strSP(31, 24)
		movz(0, sigTERM)
		bl("sigaction")
		movz(0, sigINT)
		bl("sigaction")
		adr(9, "reap")
		strSP(9, 0)
		movz(0, sigCHLD)
		bl("sigaction")
		a.label("loop")
		movXZR(0)
		movXZR(1)
		movXZR(2)
		movXZR(3)
		movz(8, sysPpoll)
		svc()
		b("loop")
		a.label("sigaction")
		ins(0x910003e1) // mov x1, sp (add x1, sp, #0)
		movXZR(2)
		movz(3, 8)
		movz(8, sysRtSigaction)
		svc()
		ins(0xd65f0000 | lr<<5) // ret
		a.label("exit")
		movXZR(0)
		movz(8, sysExitGroup)
		svc()
		a.label("reap")
		ins(0x92800000) // movn x0, #0  (x0 = -1)
		movXZR(1)
		movz(2, wNoHang)
		movXZR(3)
		movz(8, sysWait4)
		svc()
		ins(0xf100001f) // cmp x0, #0
		off := uint32(int64(a.addr("reap"))-int64(a.pc())) >> 2
		ins(0x54000000 | (off&0x7ffff)<<5 | 0xc) // b.gt reap
		ins(0xd65f0000 | lr<<5)                  // ret
	})
}
