export * from './transactions.js'
export * from './vc.js'
