/**
 * koffi (2.x) struct types matching the C layout of the benchmarked structs on
 * the running ABI (koffi follows the platform's C alignment rules; the sizes are
 * checked against the generated codecs before timing).
 *
 * `vfio_irq_set` ends in a flexible array member, which a koffi struct cannot
 * express; the benchmark's 4-eventfd instance is a struct with `__u8 data[16]`
 * (hint 'Typed': decoded as a Uint8Array, like the other codecs).
 */
import koffi from 'koffi';

export const koffiTypes = {
  vfio_region_info: koffi.struct('vfio_region_info', {
    argsz: 'uint32_t',
    flags: 'uint32_t',
    index: 'uint32_t',
    cap_offset: 'uint32_t',
    size: [8, 'uint64_t'],
    offset: [8, 'uint64_t'],
  }),
  vfio_irq_set_4: koffi.struct('vfio_irq_set_4', {
    argsz: 'uint32_t',
    flags: 'uint32_t',
    index: 'uint32_t',
    start: 'uint32_t',
    count: 'uint32_t',
    data: koffi.array('uint8_t', 16, 'Typed'),
  }),
  vfio_iommu_type1_dma_map: koffi.struct('vfio_iommu_type1_dma_map', {
    argsz: 'uint32_t',
    flags: 'uint32_t',
    vaddr: 'uint64_t',
    iova: 'uint64_t',
    size: 'uint64_t',
  }),
};

export { koffi };
