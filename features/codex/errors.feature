@codex @allure.label.epic:Codex_storage @allure.label.story:Refused_requests
Feature: A node refuses bad requests clearly and loses nothing
  As a Codex user
  I want a request the node cannot serve to be refused at once with a reason
  So that I know what to fix and my stored files stay safe

  Background:
    Given a Codex node "A" is running
    And Alice has uploaded a 100 KiB file named "keep.bin" to node A

  Scenario: An empty upload is refused
    When Alice tries to upload an empty file to node A
    Then the upload is refused with status 500 and the message "Request do not have body available"
    And Alice downloads it from node A with an identical SHA-256

  Scenario Outline: An upload with a type Codex does not know is refused
    When Alice tries to upload a 1 KiB file of type "<type>" to node A
    Then the upload is refused with status 422 and the message "The MIME type '<type>' is not valid."
    And Alice downloads it from node A with an identical SHA-256

    Examples:
      | type                              |
      | text/plain; charset=utf-8         |
      | application/x-www-form-urlencoded |
      | multipart/form-data               |
      | image/made-up                     |

  Scenario Outline: An upload with an unusable file name is refused
    When Alice tries to upload a 1 KiB file named "<name>" to node A
    Then the upload is refused with status 422 and the message "The filename is not valid."

    Examples:
      | name         |
      | exam*ple.txt |
      | CON          |
      | report.      |
      | what?.txt    |

  Scenario Outline: Unusual but acceptable file names are kept as given
    When Alice uploads a 1 KiB file named "<name>" to node A
    Then downloading it from node A gives the type "application/octet-stream" and the file name "<name>"

    Examples:
      | name            |
      | x.t*t           |
      | con.tar.gz      |
      | .hidden         |

  Scenario Outline: A malformed CID is refused on every route
    When Alice asks node A to <action> the CID "zDvZRwzmNonExistentCID123456789"
    Then node A answers 400 with the message "Incorrect Cid"

    Examples:
      | action                          |
      | download                        |
      | stream from the network         |
      | fetch the manifest of           |
      | start fetching in the background |
      | check for                       |
      | delete                          |

  Scenario: Downloading a file the node does not hold is refused
    When Alice asks node A to download a file nobody stored
    Then node A answers 404 with the message "The requested CID could not be retrieved (Block not found in local store)."

  Scenario: A block is not a file
    The message really ends in "{$cid}": that is the literal text nim-codex returns, its
    placeholder left unfilled, so the check expects it word for word.

    When Alice asks node A to download the first block of her file as a file
    Then node A answers 404 with the message "CID has invalid content type for manifest {$cid}"

  Scenario: An unknown part of the API answers "not found" with nothing else
    When Alice calls a part of the API that does not exist on node A
    Then node A answers 404 with an empty body

  @use.with_node_control=true
  Scenario: A full node refuses more data and keeps what it had
    Given a Codex node "Q" is running with a storage quota of 200 KiB
    And Alice has uploaded a 1 KiB file to node Q
    When Alice tries to upload a 256 KiB file to node Q
    Then the upload is refused with status 500 and a message starting with "Unable to store block"
    And node Q reports a storage quota of 204800 bytes
    And node Q stores 4 blocks using 196665 bytes
    And she downloads it from node Q with an identical SHA-256
