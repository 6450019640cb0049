/** The one place the recommendation models reach TensorFlow.js: core's backend selection. */
export { initTensorflow, type Tf, type TensorflowHandle, type TfBackendName } from '@rapport/core';
