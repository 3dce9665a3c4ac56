#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meltc_fuzz::validate(data));
