// SPDX-License-Identifier: Apache-2.0
package io.flowscope.tests.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;

/**
 * The bean the config-index extension's deployment module generates at build time (see
 * pom.xml: that module is not on Maven Central): the registry's dynamic configuration
 * properties. None here, so nothing can be changed at run time through the admin API, which
 * the tests do not use.
 */
@ApplicationScoped
public class DynamicConfigList {
    @Produces
    @ApplicationScoped
    DynamicConfigPropertyList list() {
        return new DynamicConfigPropertyList(List.of());
    }
}
