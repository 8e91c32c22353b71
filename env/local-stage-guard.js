/**
 * A local plugin: `serverless deploy` refuses the `local` stage. That stage's environment points
 * the functions at DynamoDB Local (127.0.0.1) and takes test keys from the shell, so deploying it
 * would ship a broken service. Package, print and offline still work with --stage local.
 */
class LocalStageGuard {
  constructor(serverless, options) {
    this.hooks = {
      initialize: () => {
        const command = serverless.processedInput?.commands?.[0];
        const stage = options.stage ?? serverless.service.provider.stage;
        if (command === 'deploy' && stage === 'local') {
          throw new serverless.classes.Error(
            'The local stage runs only on this machine (npm start); deploy a real stage: --stage dev | prod',
            'LOCAL_STAGE_DEPLOY_REFUSED',
          );
        }
      },
    };
  }
}

module.exports = LocalStageGuard;
