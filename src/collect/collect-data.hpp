// The collect stage's data side, without LibTorch: dataset readers (IDX, CIFAR-10 binary,
// TinyImageNet folders, synthetic), the paper's augmentations and batch assembly into
// normalized float32 NCHW buffers, plus the gradient file writers. Included by the
// collect stage's sources and its tests only.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-random.hpp"
#include "lmgc/research.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmgc::detail {

// Shuffling and augmentation draw from a portable generator, so they give the same results
// with any standard library.
using collect_rng = xoshiro256ss;

// Images as stored: uint8, NCHW, plus labels and the normalization of the dataset.
struct image_set {
    int channels = 0, height = 0, width = 0, classes = 0;
    std::vector<std::uint8_t> pixels; // n * channels * height * width
    std::vector<std::int64_t> labels; // n, each in [0, classes)
    std::vector<float> mean, stddev;  // per channel, of pixel / 255
    std::size_t size() const { return labels.size(); }
    std::size_t image_bytes() const {
        return static_cast<std::size_t>(channels) * static_cast<std::size_t>(height) *
               static_cast<std::size_t>(width);
    }
};

enum class split { train, test };

// IDX files (MNIST's format; gzip-compressed when the data starts with 1f 8b). Images must
// be u8 with 3 dimensions, labels u8 with 1. Errors: bad_input naming the file.
image_set read_idx_pair(const std::string& images_path, const std::string& labels_path,
                        int classes);
// Finds "<prefix>-images-idx3-ubyte[.gz]" and the labels file in dir (prefix train/t10k);
// a missing file is errc::io naming every accepted name and what_to_do.
image_set load_idx_dataset(const std::string& dir, split which, const std::string& dataset,
                           const std::string& what_to_do);
// CIFAR-10 binary version: data_batch_1..5.bin (train) or test_batch.bin (test), in dir or
// in dir/cifar-10-batches-bin.
image_set load_cifar10(const std::string& dir, split which);
// TinyImageNet: dir/wnids.txt, dir/train/<wnid>/images/*.JPEG, dir/val/images/*.JPEG with
// dir/val/val_annotations.txt. Images are resized to 32x32 (PIL's bilinear filter).
// errc::unsupported when built without libjpeg.
image_set load_tinyimagenet(const std::string& dir, split which);
// Random class templates plus noise, classes balanced at random.
image_set make_synthetic(int channels, int size, int classes, int samples, std::uint64_t seed);

// Decodes a baseline or progressive JPEG to RGB (gray images are replicated). Errors:
// bad_input naming `what`; unsupported without libjpeg.
void decode_jpeg_rgb(byte_span data, const std::string& what, int* width, int* height,
                     std::vector<std::uint8_t>* rgb);
bool have_jpeg() noexcept;
// Encodes RGB as JPEG (for tests that build a TinyImageNet folder).
bytes encode_jpeg_rgb(const std::uint8_t* rgb, int width, int height, int quality);
// PIL's bilinear resize (triangle filter scaled by the reduction, edge-renormalized) of one
// HWC u8 image.
std::vector<std::uint8_t> resize_bilinear_hwc(const std::uint8_t* src, int width, int height,
                                              int channels, int out_width, int out_height);

// The paper's augmentations (torchvision's): random crop with zero padding, horizontal
// flip, rotation with nearest-neighbour sampling and zero fill.
struct augment_spec {
    int crop_padding = 0;      // RandomCrop(size, padding=p); 0 = none
    double rotate_degrees = 0; // RandomRotation(d); 0 = none
    bool hflip = false;        // RandomHorizontalFlip(0.5)
    int pad_to = 0;            // zero-pad every image to pad_to x pad_to (0 = keep)
};

// The augmentations of the paper for a dataset (when enabled), plus the padding that an
// arch needs (28x28 -> 32x32 for all but convnet).
augment_spec augment_for(const std::string& dataset, bool enabled, int pad_to);

// Output size of one image after make_batch.
int batch_height(const image_set& set, const augment_spec& aug);
int batch_width(const image_set& set, const augment_spec& aug);

// Writes the images at indices, augmented and normalized ((x/255 - mean) / std), into
// out (indices.size() * C * H * W floats, H and W from batch_height/width) and their
// labels into labels. Draws from rng in a fixed order.
void make_batch(const image_set& set, std::span<const std::uint32_t> indices,
                const augment_spec& aug, collect_rng& rng, float* out, std::int64_t* labels);

// In-place shuffle with rng (Fisher-Yates).
void shuffle_indices(std::vector<std::uint32_t>& idx, collect_rng& rng);

// ---- datasets by name ----

struct dataset_spec {
    std::string name;
    int channels = 0, height = 0, width = 0, classes = 0;
    std::string default_dir; // "" = needs --data
    std::string expected;    // what the folder must hold
};
// The dataset named in params (synthetic takes its shape from params). Throws usage for an
// unknown name, listing the known ones.
dataset_spec find_dataset_spec(const experimental::collect_params& params);
// Loads a split, with the dataset's normalization. Errors as the readers above; a missing
// folder or file is errc::io naming the expected files.
image_set load_dataset(const experimental::collect_params& params, split which);
// The folder the dataset is read from (params.data_dir or the default); usage error when
// the dataset has no default and none was given.
std::string dataset_dir(const experimental::collect_params& params);
// Checks ranges and names of every parameter; throws usage naming the option.
void check_collect_params(const experimental::collect_params& params);
// Image size the arch is fed: 28x28 datasets are zero-padded to 32x32 for all but convnet.
int arch_pad_to(const std::string& arch, const dataset_spec& spec);

// ---- gradient files ----

struct named_f32 {
    std::string name;
    std::vector<std::int64_t> shape;
    std::span<const float> data;
};

// A .safetensors image: header JSON (metadata first, tensors in the given order, data in
// that order), padded with spaces to a multiple of 8 as the reference writer does.
bytes make_safetensors_f32(std::span<const named_f32> tensors,
                           const std::vector<std::pair<std::string, std::string>>& metadata);
// A .npy (version 1.0) image of a float32 array with the given shape, header padded to 64.
bytes make_npy_f32(std::span<const float> data, const std::vector<std::int64_t>& shape);

} // namespace lmgc::detail
