package audit

// RedactJSON exposes redactJSON to the external tests' fuzzer.
var RedactJSON = redactJSON
