// The functions of libgpas_spm.so, the only code that touches SentencePiece. Debian's
// libsentencepiece exports the protobuf-lite 3.14 it bundles; in the same symbol scope as
// LibTorch's libprotobuf 3.21 one of them hijacks the other and programs crash at load time.
// So tokenizer.cpp dlopen()s this shim with RTLD_LOCAL | RTLD_DEEPBIND, which keeps the two apart.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

extern "C" {
// Returns a processor or nullptr (with *err set).
void* gpas_spm_load(const std::string* bytes, std::string* err);
void gpas_spm_free(void* sp);
int gpas_spm_piece_size(void* sp);
int gpas_spm_eos_id(void* sp);
int gpas_spm_bos_id(void* sp);
int gpas_spm_pad_id(void* sp);
bool gpas_spm_encode(void* sp, const std::string* text, std::vector<int>* ids, std::string* err);
bool gpas_spm_decode(void* sp, const std::vector<int>* ids, std::string* text, std::string* err);
// Trains on the lines `next_line` yields; the serialized model goes to *proto.
bool gpas_spm_train(const std::unordered_map<std::string, std::string>* kw,
                    const std::function<bool(std::string&)>* next_line, std::string* proto,
                    std::string* err);
}
