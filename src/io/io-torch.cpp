// torch.save reader: not written yet.
#include "io/io-tensor-file.hpp"

namespace lmgc::detail {

parsed_file parse_torch(byte_span) {
    LMGC_FAIL(errc::unsupported, "torch: PyTorch files are not supported yet");
}

} // namespace lmgc::detail
