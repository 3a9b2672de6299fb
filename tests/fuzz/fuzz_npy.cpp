// libFuzzer target for the .npy reader: any byte string must parse or throw
// std::invalid_argument; AddressSanitizer catches any out-of-bounds read. Run by tests/fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "protoot/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    protoot::io::parse_npy<double>(bytes, size, "fuzz");
  } catch (const std::invalid_argument&) {
  }
  try {
    protoot::io::parse_npy_labels(bytes, size, "fuzz");
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
