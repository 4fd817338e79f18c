import BuildRuntime
import Foundation
import SlipwayProtocol

extension Engine {

    public var quota: Quota { options.quota }




}
