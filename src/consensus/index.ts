export {
  SingleValidatorProducer,
  DEFAULT_PRODUCER_OPTIONS,
  type ProducerOptions,
  type ProducerDeps,
  type CommittedBlock,
} from './single.js'
