export {
  initTensorflow,
  currentBackend,
  resetTensorflow,
  TF_BACKENDS,
  type InitTensorflowOptions,
  type MlLogger,
  type TensorflowHandle,
  type Tf,
  type TfBackendLoader,
  type TfBackendName,
} from './tf-backend';
export type { Tensor, Tensor1D, Tensor2D, Variable, Scalar } from '@tensorflow/tfjs-core';
